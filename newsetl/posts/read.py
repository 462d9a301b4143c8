"""Read step: input bytes -> decoded text, rejecting what is not text."""

from __future__ import annotations

import codecs
import time

from newsetl.errors import RejectError
from newsetl.models import Batch, InputRef, RawPost, Reject
from newsetl.posts.limits import DEFAULT_LIMITS, PostLimits, check_size, check_time, reason

# A byte-order mark names its encoding unambiguously (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes, encodings: list[str]) -> str:
    """Decode post bytes: by their byte-order mark, else the first encoding that fits; binary data is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RejectError("read", f"undecodable bytes for its {encoding} byte-order mark at byte "
                                          f"{exc.start}") from None
    if b"\x00" in data:
        raise RejectError("read", "not a text file (contains NUL bytes)")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    raise RejectError("read", f"undecodable bytes (tried {', '.join(encodings)})")


def read_inputs(refs: list[InputRef], encodings: list[str], limits: PostLimits = DEFAULT_LIMITS) -> Batch:
    """Read and decode a batch of local files into a Batch of RawPosts; a post that fails is a Reject."""
    raws: list[RawPost] = []
    rejects: list[Reject] = []
    for ref in refs:
        started = time.perf_counter()
        try:
            data, ref.data = ref.data, None  # bytes read by discovery: not kept beyond decoding
            if data is None:
                with open(ref.path, "rb") as handle:
                    data = handle.read(limits.max_post_bytes + 1)
            check_size(len(data), limits)
            raw = RawPost(ref, decode_text(data, encodings))
            check_time(started, "read", limits)
            raws.append(raw)
        except OSError as exc:
            rejects.append(Reject(ref.source, ref.locator, "read", f"cannot read file: {exc.strerror or exc}",
                                  ref.file_hash, ref.size))
        except RejectError as exc:
            rejects.append(Reject(ref.source, ref.locator, exc.stage, exc.reason,
                                  ref.file_hash, ref.size))
        except Exception as exc:  # noqa: BLE001 - one post's failure never stops the batch
            rejects.append(Reject(ref.source, ref.locator, "read", reason(exc), ref.file_hash, ref.size))
    return Batch(raws, rejects)
