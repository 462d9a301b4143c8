"""Metadata notes inside article paragraphs (origin, author, byline, editor, photo credit), moved into fields.

The patterns are rule data (`note_patterns`, `credit_patterns` in site_rules.yaml): regular expressions whose
named groups say which field the matched words fill. A match is cut out of its paragraph and the rest of the
paragraph stays in the text, so "本文来自微信公众号：X（ID：…），作者：Y，题图来自：Z" fills origin, author and
photo credit and leaves nothing, while "中证网讯（记者 黄一灵）2022年以来，…" keeps "中证网讯 2022年以来，…".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from newsetl.posts import literals

FIELDS = ("origin", "author", "byline", "editor", "credit", "image_credit")
# What may surround a value but is never part of it: spaces, separators, quotes and brackets.
_EDGE = " \t\u3000：:，,、；;。.．·|｜/／\"'“”‘’「」『』【】《》（）()[]<>〈〉"
# Left behind where a note was cut: empty brackets and doubled or dangling separators.
_EMPTY_BRACKETS = re.compile(r"[（(【\[]\s*[）)】\]]")
_DOUBLE_SEP = re.compile(r"([，,、；;])\s*[，,、；;]+")
_SPACES = re.compile(r"\s+")


@dataclass(slots=True)
class Notes:
    """The metadata fields found in one paragraph, and what is left of the paragraph."""

    values: dict[str, str] = field(default_factory=dict)
    rest: str = ""

    def __bool__(self) -> bool:
        return bool(self.values)


def clean_value(value: str) -> str:
    """A field value without surrounding punctuation, brackets or spaces ("：阑夕" -> "阑夕")."""
    return _SPACES.sub(" ", value.strip(_EDGE)).strip(_EDGE)


def tidy_rest(text: str) -> str:
    """The paragraph after notes were cut: no empty brackets, doubled separators or dangling punctuation."""
    text = _EMPTY_BRACKETS.sub("", text)
    text = _DOUBLE_SEP.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    return text.strip(" ，,、；;：:")


def take_notes(text: str, patterns: tuple[re.Pattern, ...]) -> Notes:
    """Cut every match of `patterns` out of `text`; each named group that matched fills its field once."""
    notes = Notes(rest=text)
    for pattern in literals.candidates(patterns, text):  # most paragraphs have none of the words they need
        while True:
            match = pattern.search(notes.rest)
            if match is None or match.end() == match.start():
                break
            for name, value in match.groupdict().items():
                value = clean_value(value or "")
                if name in FIELDS and value and name not in notes.values:
                    notes.values[name] = value
            notes.rest = notes.rest[:match.start()] + " " + notes.rest[match.end():]
    if notes.values:
        notes.rest = tidy_rest(notes.rest)
    else:
        notes.rest = text
    return notes


def collect(text: str, note_patterns: tuple[re.Pattern, ...], credit_patterns: tuple[re.Pattern, ...],
            after_image: bool, max_credit_chars: int) -> Notes:
    """Notes of one paragraph, then a photo credit in what is left of a short one.

    A credit right after an image is that image's (`image_credit`); elsewhere only an explicit photo credit
    (`credit` group, e.g. "图片来源：…") counts, as the article's. `image_credit` groups ("来源：…") need the image.
    """
    found = take_notes(text, note_patterns)
    if len(found.rest) > max_credit_chars:
        return found
    for pattern in literals.candidates(credit_patterns, found.rest):
        match = pattern.search(found.rest)
        if match is None:
            continue
        groups = {name: clean_value(value) for name, value in match.groupdict().items() if value}
        value = groups.get("credit") or (groups.get("image_credit") if after_image else None)
        if not value:
            continue
        found.values.setdefault("image_credit" if after_image else "credit", value)
        found.rest = tidy_rest(found.rest[:match.start()] + " " + found.rest[match.end():])
        break
    return found
