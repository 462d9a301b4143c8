"""Decode fetched post files: the charset the server declared, else what the bytes say, else the fallbacks."""

from __future__ import annotations

import codecs

from bs4.dammit import UnicodeDammit

from newsetl.errors import RejectError

# Labels servers use for a narrower charset than the text really has; decode with the superset (as browsers do).
SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs",
             "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "utf-8", "ascii": "utf-8"}


def superset(name: str) -> str | None:
    """The codec to decode text labelled `name` with, or None for an unknown label."""
    label = name.strip().strip("\"'").lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_body(data: bytes, declared: str | None, fallbacks: list[str]) -> tuple[str, str]:
    """(text, encoding used) for a fetched text body; RejectError("read", ...) when nothing fits."""
    if b"\x00" in data:
        raise RejectError("read", "not a text file (contains NUL bytes)")
    first = superset(declared) if declared else None
    if first:
        try:
            return data.decode(first).removeprefix("\ufeff"), first
        except UnicodeDecodeError:
            pass  # the label is wrong; let the bytes speak
    guesses = [name for name in (superset(f) for f in fallbacks) if name]
    dammit = UnicodeDammit(data, known_definite_encodings=guesses, is_html=False)
    if dammit.unicode_markup is None or dammit.contains_replacement_characters:
        tried = ", ".join(([first] if first else []) + guesses)
        raise RejectError("read", f"undecodable text (tried {tried} and detection)")
    return dammit.unicode_markup.removeprefix("\ufeff"), dammit.original_encoding or "unknown"
