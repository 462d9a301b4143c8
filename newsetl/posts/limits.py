"""Bounded work per post, and one-line reasons for what goes wrong with one post.

Posts come from outside, so every step has a ceiling (config `limits:`, `LimitsConfig`; the workers get it
as a `PostLimits`, which imports no pydantic):
* size: a file bigger than `max_post_bytes` is refused before it is read (discover.py);
* YAML: front matter is composed (aliases stay shared nodes, nothing is expanded), its size with every alias
  expanded and its depth are counted without recursion, and only then is it constructed; a "billion laughs"
  bomb or a self-referencing anchor is a reject in linear time;
* HTML: at most `max_html_elements` elements; XML-incompatible control characters are dropped; elements nested deeper
  than `max_html_depth` are flattened (their text kept), where libxml2 would otherwise silently drop
  everything below depth 256 (2048 with `huge_tree`);
* time: a post whose read, parse or clean step took longer than `post_seconds` is a reject. It is measured,
  not preempted (no thread can stop C code), and remembered like any bad post (by its file hash), so an
  unchanged slow file costs nothing on the next run.

Anything else a post raises becomes a reject with the exception's type and first line (`reason`).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, fields

import lxml.html
import yaml
from lxml import etree

from newsetl.errors import RejectError


@dataclass(frozen=True, slots=True)
class PostLimits:
    """The `limits:` section as a plain object for the workers, which import no config (pydantic)."""

    max_post_bytes: int = 8 * 1024 * 1024
    max_front_matter_bytes: int = 256 * 1024
    max_yaml_nodes: int = 10_000
    max_yaml_depth: int = 64
    max_html_elements: int = 50_000
    max_html_depth: int = 200
    post_seconds: float = 10.0

    @classmethod
    def of(cls, section: object) -> "PostLimits":
        """The limits of a config's validated `limits:` section (newsetl.config.LimitsConfig)."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


DEFAULT_LIMITS = PostLimits()
REASON_CHARS = 300

# Characters libxml2 refuses in text (ValueError "All strings must be XML compatible") or drops silently.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# ... and the same characters written as character references (`&#1;`, `&#x1f;`), which the parser decodes.
_NOT_XML_REF = re.compile(r"&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])(?![0-9a-fA-F])"
                          r"|0*(?:[0-8]|1[124-9]|2[0-9]|3[01])(?![0-9]));?")
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_CLOSES_P = frozenset("address article aside blockquote div dl fieldset figure footer form h1 h2 h3 h4 h5 h6 "
                      "header hr li ol p pre section table ul".split())
_SAME_CLOSES = frozenset("p li dt dd option tr td th".split())  # a second one closes the first
_CLOSE_SEARCH = 64  # how far down the open-element stack a closing tag looks for its opening
_deep_checks: dict[int, etree.XPath] = {}
_COUNT_ELEMENTS = etree.XPath("count(descendant::*)")


def reason(exc: BaseException) -> str:
    """An unexpected exception as a one-line reject reason: `ValueError: day is out of range for month`."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


def check_time(started: float, stage: str, limits: PostLimits) -> None:
    """Reject a post whose `stage` (started at `started`, a perf_counter value) took longer than allowed."""
    spent = time.perf_counter() - started
    if spent > limits.post_seconds:
        raise RejectError(stage, f"over the time budget: {stage} took {spent:.1f} s (limit {limits.post_seconds:g} s)")


def check_size(size: int, limits: PostLimits) -> None:
    if size > limits.max_post_bytes:
        raise RejectError("read", f"too large: {size:,} bytes (limit {limits.max_post_bytes:,})")


# -- YAML front matter -------------------------------------------------------------------------------------

_OPEN_EVENTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def check_yaml(text: str, limits: PostLimits = DEFAULT_LIMITS) -> None:
    """Reject front matter that nests too deep or grows too big once its aliases are expanded, from libyaml's
    event stream alone: nothing is composed or expanded, so this is linear in the text and never recurses.

    (libyaml's composer recurses in C: 100,000 nested `[` crash the process, so depth is checked first.)
    Each anchor's expanded size is remembered when its node ends; an alias adds that size. An alias to an
    anchor whose node is still open is a self-reference. Raises PyYAML's YAMLError for invalid YAML.
    """
    sizes: dict[str, int] = {}
    stack: list[list] = [[0, None]]  # per open collection: [values so far, its anchor]
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, _OPEN_EVENTS):
            stack.append([1, event.anchor])
            if len(stack) - 1 > limits.max_yaml_depth:
                raise RejectError("parse", f"front matter nested deeper than {limits.max_yaml_depth} levels")
            continue
        if isinstance(event, _CLOSE_EVENTS):
            count, anchor = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            count, anchor = 1, event.anchor
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                raise RejectError("parse", f"front matter alias *{event.anchor} refers to itself or to nothing")
            count, anchor = sizes[event.anchor], None
        else:
            continue
        if anchor is not None:
            sizes[anchor] = count
        stack[-1][0] += count
        if stack[-1][0] > limits.max_yaml_nodes:
            raise RejectError("parse", f"front matter too big: more than {limits.max_yaml_nodes:,} values "
                                       "once its aliases are expanded")


def cannot_exceed(text: str, limits: PostLimits = DEFAULT_LIMITS) -> bool:
    """True when `check_yaml(text, limits)` has nothing to reject, seen from the text alone, so loading may skip
    its event pass: one document (no `---` or `...`), no anchors or aliases (no `&`, `*`: every node counts once),
    at most 2 nodes per character plus 2 within `max_yaml_nodes`, and fewer characters that can open a
    collection (`[`, `{`, `-`, `?`, `:`; every collection needs one of its own) than `max_yaml_depth` allows.
    The parse errors are the same either way: the loader reads the same events of the same one document."""
    if "&" in text or "*" in text or "---" in text or "..." in text:
        return False
    if 2 * len(text) + 2 > limits.max_yaml_nodes:
        return False
    return sum(map(text.count, "[{-?:")) <= limits.max_yaml_depth


class FrontMatterLoader(yaml.CSafeLoader):
    """PyYAML's safe C loader, except that a `!!set` is a list of its members in document order: a Python set
    would make every value built from it (`str(set)`, a list of categories) depend on the process's hash seed,
    so the same post would give other rows, and another content hash, from one worker to the next."""


def _set_members(loader: yaml.CSafeLoader, node: yaml.MappingNode) -> list:
    return [loader.construct_object(key, deep=True) for key, _ in node.value]


FrontMatterLoader.add_constructor("tag:yaml.org,2002:set", _set_members)


_HARD_TABS = re.compile(r"\n(\t+)")


def soft_tabs(text: str) -> str:
    """Tabs that indent a line as two spaces each, as Hexo reads YAML (hexo-front-matter's `escape`, used for
    front matter and `_config.yml` alike): YAML forbids tabs in indentation, and real blogs have them."""
    return _HARD_TABS.sub(lambda m: "\n" + "  " * len(m.group(1)), text) if "\t" in text else text


def load_front_matter(text: str, limits: PostLimits = DEFAULT_LIMITS) -> object:
    """YAML front matter as Python data (C loader, safe tags only), within `limits`; YAMLError as PyYAML's.

    A value the YAML loader itself cannot build (`date: 2021-02-30`, a time-zone offset of 25 hours) is a
    parse reject naming it.
    """
    if len(text) > limits.max_front_matter_bytes:
        raise RejectError("parse", f"front matter too long: {len(text):,} characters "
                                   f"(limit {limits.max_front_matter_bytes:,})")
    text = soft_tabs(text)
    if not cannot_exceed(text, limits):
        check_yaml(text, limits)
    try:
        return yaml.load(text, Loader=FrontMatterLoader)
    except (ValueError, OverflowError) as exc:  # e.g. datetime(2021, 2, 30) in the timestamp constructor
        raise RejectError("parse", f"invalid value in front matter: {reason(exc)}") from None


# -- HTML bodies -------------------------------------------------------------------------------------------

def _deeper_than(depth: int) -> etree.XPath:
    check = _deep_checks.get(depth)
    if check is None:
        check = _deep_checks[depth] = etree.XPath("boolean(" + "/".join(["*"] * depth) + ")")
    return check


def flatten_html(html: str, max_depth: int) -> str:
    """`html` with the tags that would open elements deeper than `max_depth` left out; all text kept.

    A single linear pass over the tags with a stack of open elements (void elements, implied closing of `p`,
    `li`, `td` ... as HTML does); a closing tag looks only `_CLOSE_SEARCH` elements down for its opening,
    so unbalanced input stays linear.
    """
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # (tag, kept)
    kept_depth = 0
    position = 0
    for match in _TAG.finditer(html):
        out.append(html[position:match.start()])
        position = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID or match.group(0).endswith("/>"):
            out.append(match.group(0))
            continue
        if not closing:
            top = stack[-1][0] if stack else None
            if (top == "p" and name in _CLOSES_P) or (top == name and name in _SAME_CLOSES):
                kept_depth -= stack.pop()[1]  # implied end of the open `p` (or `li`, `td` ...)
            keep = kept_depth < max_depth
            stack.append((name, keep))
            kept_depth += keep
            if keep:
                out.append(match.group(0))
            continue
        for i in range(len(stack) - 1, max(-1, len(stack) - 1 - _CLOSE_SEARCH), -1):
            if stack[i][0] == name:
                keep = stack[i][1]
                kept_depth -= sum(kept for _, kept in stack[i:])
                del stack[i:]
                if keep:
                    out.append(match.group(0))
                break
    out.append(html[position:])
    return "".join(out)


def parse_html(html: str, limits: PostLimits = DEFAULT_LIMITS) -> etree._Element:
    """An HTML body as an lxml tree under one `<div>`, nested at most `max_html_depth` deep, no text lost,
    with at most `max_html_elements` elements (cleaning costs ~10-60 us per element)."""
    return parse_html_source(html, limits)[0]


def parse_html_source(html: str, limits: PostLimits = DEFAULT_LIMITS) -> tuple[etree._Element, str]:
    """`parse_html`, and a text holding all the tree was parsed from (newsetl/posts/selector_gate.py reads it):
    the body as given to libxml2, inside the `<html><body>` ... `</body></html>` lxml wraps a fragment in (a tag
    or attribute value left open at the end of the body runs on into that closing text)."""
    html = _NOT_XML.sub("", html)
    if "&#" in html:
        html = _NOT_XML_REF.sub("", html)
    depth = limits.max_html_depth
    root = _fragment(html)
    if _deeper_than(depth)(root):
        html = flatten_html(html, depth // 2)
        root = _fragment(html)
        if _deeper_than(depth)(root):
            raise RejectError("clean", f"HTML nested deeper than {depth} levels even after flattening")
    elements = int(_COUNT_ELEMENTS(root))
    if elements > limits.max_html_elements:
        raise RejectError("clean", f"too many HTML elements: {elements:,} (limit {limits.max_html_elements:,})")
    return root, f"<html><body>{html}</body></html>"


_parsers = threading.local()


def _html_parser() -> etree.HTMLParser:
    """This thread's HTML parser (a parser is not shared between threads), built once.

    `huge_tree`: text nodes over 10 MB and nesting past 256 levels are kept, not silently dropped. Elements
    are lxml.html's classes (text_content, drop_tree ...), looked up in C rather than by lxml.html's Python
    lookup, which also picks form/input/label subclasses with extra properties that cleaning never uses.
    """
    parser = getattr(_parsers, "html", None)
    if parser is None:
        parser = _parsers.html = etree.HTMLParser(huge_tree=True)
        parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
            element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
    return parser


def _fragment(html: str) -> etree._Element:
    """`html` parsed under a new `<div>`, as `lxml.html.fragment_fromstring(html, create_parent="div")`
    does, with this thread's parser (also for the `<div>`, so every element of the tree uses its lookup)."""
    parser = _html_parser()
    try:
        elements = lxml.html.fragments_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise RejectError("clean", f"unparseable HTML body: {exc}") from None
    root = parser.makeelement("div")
    if elements and isinstance(elements[0], str):
        root.text = elements.pop(0)
    root.extend(elements)
    return root
