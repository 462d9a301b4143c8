"""A cheap necessary condition for a site rule's CSS selector: text its matches need in the HTML source.

The cleaner runs three or four rule selectors per post (`remove`, `captions`, `caption_candidates`, `bold`);
each comma part of one walks the whole tree in libxml2. Most posts hold nothing any part could match: no
`<figcaption>`, no `text-align: center`. `may_match(selector, source)` answers False only when the tree parsed
from `source` cannot hold a match, so the cleaner skips the XPath and takes its empty result. Where it answers
True the selector runs exactly as before.

What an element matching a compound selector (`span.img_descr`, `[style*='text-align:center'] > p`) needs:
- its tag, unless `*` or one of IMPLIED: an element comes from a start or end tag `<name` / `</name` of the
  source, in any letter case (`tag_pattern`), or is one libxml2 implies (html, head, body, p) or the
  cleaner's own (the root `<div>`, the embed tag);
- the value of a class, id or attribute condition (`=`, `~=`, `|=`, `^=`, `$=`, `*=` without a case flag):
  an attribute value is the source's text as it is when the source has no character reference (no `&`) and
  the value has no line break (the parser turns CR LF into LF). With a `&` in the source only tags count.
Both sides of a combinator must match; `:not(...)`, pseudo-classes and functions add conditions, so only the
element they apply to counts. A part with nothing to check, or anything not understood, means always run.
"""

from __future__ import annotations

import re

from cssselect import parse
from cssselect.parser import Attrib, Class, CombinedSelector, Element, Function, Hash, Negation, Pseudo

from newsetl.posts.identity_cache import IdentityCache

IMPLIED = frozenset({"html", "head", "body", "p", "div", "newsetl-embed"})
_VALUE_OPERATORS = frozenset({"=", "~=", "|=", "^=", "$=", "*="})

# One gate per selector object, by identity.
_gates: IdentityCache[object, "Gate | None"] = IdentityCache()


class Gate:
    """The comma parts of a selector as (tag patterns, attribute values) that a match of the part needs."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[tuple[list[re.Pattern], list[str]]]) -> None:
        self.parts = parts

    def may_match(self, source: str) -> bool:
        references = "&" in source
        for tags, values in self.parts:
            if (references or all(value in source for value in values)) and \
                    all(tag.search(source) is not None for tag in tags):
                return True
        return False


def tag_pattern(*tags: str) -> re.Pattern:
    """`<tag` or `</tag` (of any of `tags`) in any letter case, not followed by a character that would continue
    a tag name in libxml2's older parser (ASCII letters, digits, `:_.-`) or its HTML5 tokenizer (all but space,
    `/`, `>`)."""
    return re.compile("</?(?:" + "|".join(map(re.escape, tags)) + ")(?![A-Za-z0-9:_.-])", re.IGNORECASE)


def _needs(node: object, tags: set[str], values: set[str]) -> None:
    """Add to `tags` and `values` what an element matching `node` (a cssselect parsed tree) needs."""
    if isinstance(node, Element):
        tag = (node.element or "*").lower()
        if tag != "*" and tag not in IMPLIED and node.namespace is None:
            tags.add(tag)
    elif isinstance(node, Class):
        _needs(node.selector, tags, values)
        values.add(node.class_name)
    elif isinstance(node, Hash):
        _needs(node.selector, tags, values)
        values.add(node.id)
    elif isinstance(node, Attrib):
        _needs(node.selector, tags, values)
        value = getattr(node.value, "value", None)
        if node.operator in _VALUE_OPERATORS and node.namespace is None and getattr(node, "flag", None) is None \
                and isinstance(value, str):
            values.add(value)
    elif isinstance(node, CombinedSelector):
        _needs(node.selector, tags, values)
        _needs(node.subselector, tags, values)
    elif isinstance(node, (Negation, Pseudo, Function)):
        _needs(node.selector, tags, values)


def gate_for(css: str) -> Gate | None:
    """The gate of a selector list, or None when one of its parts needs nothing that can be checked."""
    try:
        selectors = parse(css)
    except Exception:  # noqa: BLE001 - lxml compiled it; a parse we cannot read just means no gate
        return None
    parts = []
    for selector in selectors:
        if selector.pseudo_element is not None:
            return None
        tags: set[str] = set()
        values: set[str] = set()
        _needs(selector.parsed_tree, tags, values)
        values = {v for v in values if v and "\r" not in v and "\n" not in v}
        if not tags and not values:
            return None
        parts.append((frozenset(tags), frozenset(values)))
    return _gate(parts) if parts else None


def _implies(part: tuple[frozenset, frozenset], other: tuple[frozenset, frozenset]) -> bool:
    """Whether the source holding what `part` needs means it holds what `other` needs (a value inside another
    counts: `text-align:center` holds `center`)."""
    return other[0] <= part[0] and all(any(v in w for w in part[1]) for v in other[1])


def _gate(parts: list[tuple[frozenset, frozenset]]) -> Gate:
    """The parts a gate has to check: a part is left out when another that it implies is kept (if it may match,
    so may that one), and the parts needing one tag and nothing else become one pattern."""
    unique = list(dict.fromkeys(parts))
    kept = [p for p in unique if not any(q != p and _implies(p, q) for q in unique)]
    single = sorted(t for tags, values in kept if len(tags) == 1 and not values for t in tags)
    checks = [([tag_pattern(*single)], [])] if single else []
    checks += [([tag_pattern(t) for t in sorted(tags)], sorted(values, key=len, reverse=True))
               for tags, values in kept if len(tags) != 1 or values]
    return Gate(checks)


def may_match(selector: object, source: str) -> bool:
    """False only when no element of the tree parsed from `source` can match `selector` (an lxml CSSSelector)."""
    gate = _gates.get(selector, _gate_of)
    return gate is None or gate.may_match(source)


def _gate_of(selector: object) -> Gate | None:
    return gate_for(getattr(selector, "css", ""))
