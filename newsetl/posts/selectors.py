"""The rules' CSS selectors as one pass over the tree instead of one pass per selector.

cssselect turns `style, script, [hidden], …` into an XPath union, `descendant-or-self::style |
descendant-or-self::script | …`, which libxml2 evaluates by walking the whole tree once for each part (13
walks for the default `remove` rules). `one_pass(selector)` rewrites every part that is a single step into one
predicate, `descendant-or-self::*[self::style or self::script or self::*[@hidden] …]`: one walk, the same
elements (a node-set, in document order, each once). Parts with more steps (`[style*=…] > p`) stay as they are,
in the union. An expression it cannot split is used unchanged.
"""

from __future__ import annotations

from lxml import etree
from lxml.cssselect import CSSSelector

_STEP = "descendant-or-self::"
_cache: dict[int, tuple[CSSSelector, etree.XPath]] = {}


def _top_level(expression: str, separator: str) -> list[str] | None:
    """`expression` split at `separator` characters outside quotes, brackets and parentheses (None: unbalanced)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(expression):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(expression[start:i])
            start = i + 1
    if depth or quote:
        return None
    return parts + [expression[start:]]


def one_pass_expression(path: str) -> str:
    """The XPath `path` (a union from cssselect) with its single-step parts merged into one predicate."""
    parts = _top_level(path, "|")
    if parts is None:
        return path
    single, other = [], []
    for part in (p.strip() for p in parts):
        step = part[len(_STEP):] if part.startswith(_STEP) else None
        steps = _top_level(step, "/") if step is not None else None
        if steps is not None and len(steps) == 1 and step and "::" not in step.split("[", 1)[0]:
            single.append(f"self::{step}")
        else:
            other.append(part)
    if len(single) < 2:
        return path
    return " | ".join([f"{_STEP}*[{' or '.join(single)}]", *other])


def one_pass(selector: CSSSelector) -> etree.XPath:
    """An XPath finding what `selector` finds, in one walk of the tree where it can (cached per selector)."""
    cached = _cache.get(id(selector))
    if cached is None or cached[0] is not selector:
        if len(_cache) > 4096:
            _cache.clear()
        cached = _cache[id(selector)] = (selector, etree.XPath(one_pass_expression(selector.path)))
    return cached[1]
