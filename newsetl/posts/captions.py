"""Is a centred or caption-classed paragraph after an image really its caption, a heading, or text?

The rules file names caption *candidates* (CSS selectors such as `figcaption` or centred paragraphs). A
candidate is a caption only where the page means one: short, right after an image, and styled as a caption
(small, grey, italic or KaiTi type, a caption-like class) or worded as one ("图为…", "…资料图", "▲…"). A candidate
styled as a heading (bold only, large type, a heading-like class) stays a heading; anything else is text.
`figcaption` and `wp-caption-text` are explicit markup and always captions.
"""

from __future__ import annotations

import re

from lxml import etree

from newsetl.rules import CaptionRules

_DECL = re.compile(r"([\w-]+)\s*:\s*([^;]+)")
_PX = re.compile(r"([\d.]+)\s*(px|pt|em|rem)?")
_RGB = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)")
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b")
_CAPTION_CLASS = re.compile(r"caption|img-?desc|img-?note|imagelabel|pic-?text|desc", re.I)
_HEADING_CLASS = re.compile(r"title|heading|head\b|subtitle", re.I)
_EXPLICIT = ("figcaption",)
_BOLD = frozenset(("strong", "b"))
_SMALL = frozenset(("em", "i", "small"))
_CLAUSE_END = ("，", ",", "、", "；", ";", "：", ":")


def _styles(element: etree._Element) -> dict[str, str]:
    """Inline CSS of the element, its ancestors (outermost first, nearer ones win) and its only-child chain."""
    chain = list(reversed(list(element.iterancestors())))[-4:] + [element]
    node = element
    while len(node) == 1 and not (node.text or "").strip():  # <p><span style=…>text</span></p>
        node = node[0]
        chain.append(node)
    merged: dict[str, str] = {}
    for item in chain:
        for key, value in _DECL.findall(item.get("style") or ""):
            merged[key.lower()] = value.strip().lower()
        if item.get("align"):
            merged["text-align"] = item.get("align").lower()
    return merged


def _size_px(value: str | None) -> float | None:
    match = _PX.match(value or "")
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2) or "px"
    return number * {"px": 1.0, "pt": 4 / 3, "em": 16.0, "rem": 16.0}[unit]


def _grey(color: str | None) -> bool:
    """A grey text colour (equal channels, lighter than #555): how captions are usually set."""
    if not color:
        return False
    match = _RGB.search(color)
    if match:
        r, g, b = (int(v) for v in match.groups())
    else:
        hexed = _HEX.search(color)
        if not hexed:
            return color.strip() in ("gray", "grey", "silver", "darkgray", "darkgrey")
        digits = hexed.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return max(r, g, b) - min(r, g, b) <= 12 and r >= 0x55


def _classes(element: etree._Element) -> str:
    return " ".join(filter(None, (element.get("class"), element.get("label"), element.get("id"))))


def _bold_only(element: etree._Element, text: str) -> bool:
    """All of the paragraph's text sits inside <strong>/<b> (or a bold style)."""
    bold = "".join("".join(e.itertext()) for e in element.iter() if e.tag in _BOLD and
                   not any(a.tag in _BOLD for a in e.iterancestors() if a is not element))
    return bool(bold.strip()) and " ".join(bold.split()) == text


def heading_styled(element: etree._Element, text: str) -> bool:
    """Styled as a heading: an h-tag, a heading class, large or bold-only type; never a clause ending in a comma."""
    if text.endswith(_CLAUSE_END):
        return False
    if element.tag in ("h1", "h2", "h3", "h4", "h5", "h6") or _HEADING_CLASS.search(_classes(element)):
        return True
    styles = _styles(element)
    size = _size_px(styles.get("font-size"))
    if size is not None and size >= 17:
        return True
    weight = styles.get("font-weight", "")
    return weight in ("bold", "bolder") or weight.isdigit() and int(weight) >= 600 or _bold_only(element, text)


def caption_styled(element: etree._Element) -> bool:
    """Styled as a caption: small, grey, italic or KaiTi type, or a caption-like class."""
    if _CAPTION_CLASS.search(_classes(element)):
        return True
    styles = _styles(element)
    size = _size_px(styles.get("font-size"))
    font = styles.get("font-family", "")
    small_tag = element.tag in _SMALL or (len(element) == 1 and element[0].tag in _SMALL
                                          and not (element.text or "").strip())
    return (size is not None and size <= 14) or _grey(styles.get("color")) or small_tag or \
        styles.get("font-style") == "italic" or "楷体" in font or "kai" in font


def candidate(owner: etree._Element, candidates: set, explicit: set) -> bool:
    """Whether the caption-looking paragraph is only a candidate (not explicit caption markup)."""
    chain = [owner, *owner.iterancestors()]
    if any(e.tag in _EXPLICIT or (e in explicit and e not in candidates) for e in chain):
        return False
    return any(e in candidates for e in chain)


def judge(owner: etree._Element, text: str, after_image: bool, rules: CaptionRules) -> str:
    """"caption", "heading" or "text" for a caption candidate paragraph."""
    if not after_image or len(text) > rules.max_chars:
        return "heading" if after_image and heading_styled(owner, text) and len(text) <= rules.max_chars else "text"
    if caption_styled(owner):
        return "caption"
    if heading_styled(owner, text):
        return "heading"
    if rules.words is not None and rules.words.search(text):
        return "caption"
    return "text"
