"""Markdown post bodies -> HTML the way Hexo renders them, so they take the same cleaning path as HTML bodies.

Hexo pulls its tag plugins out, renders Markdown (hexo-renderer-marked: GFM, `breaks: true`), then puts the
tags' HTML back; `render_markdown` does the same with markdown-it-py (CommonMark + GFM tables and
strikethrough, footnotes and task lists from mdit-py-plugins) and `newsetl.posts.hexo_tags`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.html
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from newsetl.posts.hexo_tags import URL_RE, TagContext, code_figure, expand_tags, restore_tags, split_args

BODY_FORMATS = ("auto", "html", "markdown")
# Hexo's excerpt marker (hexo/lib/plugins/filter/after_post_render/excerpt.js).
MORE_RE = re.compile(r"<!--\s*more\s*-->", re.I)
HTML_START = re.compile(r"\s*<(?:!--|!doctype|[A-Za-z][\w:-]*)[\s/>]", re.I)
# Markdown block syntax, links, images and tags: any of these makes a body that starts with a tag Markdown.
_LINE_HINTS = r"(?:#{1,6}[ \t]|`{3}|~{3}|[ \t]{0,3}[-*+][ \t]+\S|[ \t]{0,3}\d{1,9}[.)][ \t]+\S|[ \t]{0,3}>|\|.*\|[ \t]*$)"
# Inline hints, each with a word every match of it contains.
_INLINE_HINTS = (("](", r"!\[[^\]\n]*\]\(|\[[^\]\n]+\]\([^)\s]+\)"), ("{%", r"\{%-?\s*\w+"),
                 ("<!--", r"<!--\s*more\s*-->"))
MARKDOWN_HINTS = re.compile("^" + _LINE_HINTS + "|" + "|".join(hint for _, hint in _INLINE_HINTS), re.M)
# The same search in parts (has_markdown_hints): regex alternations with `^` try every branch at every position.
_FIRST_LINE = re.compile(_LINE_HINTS, re.M)
_NEXT_LINE = re.compile("\n" + _LINE_HINTS, re.M)  # `^` of re.M: the start, or right after a "\n"
_INLINE = tuple((word, re.compile(hint)) for word, hint in _INLINE_HINTS)


@dataclass(slots=True)
class RenderedBody:
    """A Markdown body rendered to HTML, its excerpt (before `<!-- more -->`) and what went wrong."""

    html: str
    excerpt_html: str | None = None
    warnings: list[str] = field(default_factory=list)


def detect_format(body: str) -> str:
    """`html` when the body starts with a tag and has no Markdown syntax, else `markdown`."""
    if HTML_START.match(body) and not has_markdown_hints(body):
        return "html"
    return "markdown"


# `<pre>` blocks of an HTML body: their lines are code (" * @param url" in a Javadoc comment is no list item),
# and Markdown leaves an HTML block's content alone anyway.
_PRE_BLOCK = re.compile(r"<pre\b.*?</pre\s*>", re.I | re.S)


def has_markdown_hints(body: str) -> bool:
    """Whether `MARKDOWN_HINTS.search(body)` finds anything outside `<pre>` blocks, in a third of its time on an
    HTML body: the line hints only where lines start, each inline hint only when its word is in the body."""
    if "<pre" in body or "<PRE" in body:
        body = _PRE_BLOCK.sub("", body)
    if _FIRST_LINE.match(body) or _NEXT_LINE.search(body):
        return True
    return any(word in body and hint.search(body) is not None for word, hint in _INLINE)


def _fence(self, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it renderer rule signature
    """Hexo's backtick code block: ```` ```lang [title] [url] [link text] ```` -> a captioned code figure."""
    token = tokens[idx]
    info = unescapeAll(token.info).strip()
    lang, _, rest = info.partition(" ")
    if not rest.strip():
        return self.fence(tokens, idx, options, env)
    args = split_args(rest)
    caption = url = link_text = None
    for i, arg in enumerate(args):
        if URL_RE.match(arg):
            caption, url, link_text = " ".join(args[:i]) or None, arg, " ".join(args[i + 1:]) or None
            break
    else:
        caption = " ".join(args)
    return code_figure(token.content.rstrip("\n"), lang or None, caption, url, link_text) + "\n"


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """One CommonMark + GFM parser per process (rendering keeps its state per call)."""
    md = MarkdownIt("commonmark", {"html": True, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin).use(tasklists_plugin)
    md.add_render_rule("fence", _fence)
    return md


def render_fragment(text: str, ctx: TagContext) -> str:
    """Markdown with tag plugins -> HTML (also used for the bodies of block tags)."""
    return restore_tags(markdown_parser().render(expand_tags(text, ctx)), ctx)


def render_markdown(text: str, ctx: TagContext) -> RenderedBody:
    """A whole post body; the excerpt is the HTML before the first `<!-- more -->`."""
    html = render_fragment(text, ctx)
    match = MORE_RE.search(html)
    return RenderedBody(html, html[:match.start()] if match else None, ctx.warnings)


def html_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed (for excerpts)."""
    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for element in root.iter("br", "p", "li", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"):
        element.tail = " " + (element.tail or "")
    return " ".join(root.text_content().split())
