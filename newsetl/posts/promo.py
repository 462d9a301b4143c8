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


def is_promo(element: etree._Element, shape: PromoShape) -> bool:
    """True when `element` is a short block with a QR image or name and a call to action."""
    text = " ".join("".join(element.itertext()).split())
    if len(text) > shape.max_chars:
        return False
    has_image = next(element.iter("img"), None) is not None
    call = shape.calls is not None and bool(text) and shape.calls.search(text) is not None
    named = shape.names is not None and _named(element, shape.names)
    return (has_image and (call or named)) or (named and call)


def promo_blocks(root: etree._Element, shape: PromoShape) -> list[etree._Element]:
    """The outermost promo blocks under `root`, in document order."""
    if shape.calls is None and shape.names is None:
        return []
    found: list[etree._Element] = []
    stack = list(reversed(root))
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue
        if element.tag in CONTAINERS and is_promo(element, shape):
            found.append(element)
            continue
        stack.extend(reversed(element))
    return found
