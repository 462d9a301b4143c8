"""Promo and QR-code blocks recognised by what they are, not by a list of site class names.

A block is promo when it is short (at most `max_chars` characters of text) and either
- holds an image and a call to action ("扫码", "二维码", "下载 APP", "开户", "关注公众号" …), or
- holds an image and is named as a QR block (class/id such as `appendQr_wrap`, `app-kaihu-qr`, `qrcode`), or
- is named as a QR block and carries a call to action (a share pop-up's "扫码分享").
The words and names are rule data (`promo_calls`, `promo_names`); site rules can still name blocks
(`promo_blocks`). The outermost such block is taken, never the article root.
"""

from __future__ import annotations

import re

from lxml import etree

from newsetl.posts import literals
from newsetl.rules import PromoShape

CONTAINERS = frozenset("div p section figure table tbody tr td span center aside a".split())


def _named(element: etree._Element, names: re.Pattern) -> bool:
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        if names.search(" ".join(filter(None, (node.get("class"), node.get("id"))))):
            return True
        if node.tag == "img" and names.search(" ".join(filter(None, (node.get("src"), node.get("alt"))))):
            return True
    return False


def _short_text(element: etree._Element, max_chars: int) -> str | None:
    """The element's text with its whitespace collapsed, or None as soon as it is longer than `max_chars`.

    Stops reading at the first piece that takes the non-space characters past `max_chars` (the collapsed
    text is at least that long), so a long article section costs a few pieces, not all of its text.
    """
    pieces: list[str] = []
    visible = 0
    for piece in element.itertext():
        pieces.append(piece)
        visible += sum(map(len, piece.split()))  # its non-space characters
        if visible > max_chars:
            return None
    text = " ".join("".join(pieces).split())
    return text if len(text) <= max_chars else None


def is_promo(element: etree._Element, shape: PromoShape) -> bool:
    """True when `element` is a short block with a QR image or name and a call to action."""
    text = _short_text(element, shape.max_chars)
    if text is None:
        return False
    call = shape.calls is not None and bool(text) and literals.search(shape.calls, text) is not None
    if call:  # a call to action: with an image, or named as a QR block
        return next(element.iter("img"), None) is not None or \
            (shape.names is not None and _named(element, shape.names))
    # no call: an image named as a QR block (its name may be on the image itself)
    return shape.names is not None and next(element.iter("img"), None) is not None and _named(element, shape.names)


def _holders(root: etree._Element, names: re.Pattern | None) -> set:
    """The elements holding an image or a node named as a QR block (themselves or below): only they can be
    promo blocks, since a promo block has an image or a name (is_promo)."""
    holders: set = set()
    unnamed = names is not None and names.search("") is not None  # a rule matching "" names everything
    for node in root.iter():
        tag = node.tag
        if tag != "img":
            if names is None or not isinstance(tag, str):
                continue
            classes, name = node.get("class"), node.get("id")
            label = " ".join(filter(None, (classes, name))) if classes is not None or name is not None else ""
            if not (names.search(label) if label else unnamed):
                continue
        while node is not None and node not in holders:  # it and its ancestors (stop at a marked one)
            holders.add(node)
            node = node.getparent()
    return holders


def promo_blocks(root: etree._Element, shape: PromoShape) -> list[etree._Element]:
    """The outermost promo blocks under `root`, in document order."""
    if shape.calls is None and shape.names is None:
        return []
    holders = _holders(root, shape.names)
    found: list[etree._Element] = []
    stack = list(reversed(root))
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str) or element not in holders:  # nothing below can be promo either
            continue
        if element.tag in CONTAINERS and is_promo(element, shape):
            found.append(element)
            continue
        stack.extend(reversed(element))
    return found
