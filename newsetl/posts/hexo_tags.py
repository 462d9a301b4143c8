"""Hexo tag plugins (`{% name args %}` ... `{% endname %}`) -> the HTML Hexo renders for them.

Hexo takes the tags out before Markdown rendering and puts their output back afterwards; so does this
module: `expand_tags` swaps every tag for a placeholder token, `restore_tags` puts the HTML in after the
Markdown renderer ran. Which tags stay literal text is decided as Hexo decides it: fenced code blocks are
escaped before Markdown (hexo/lib/plugins/filter/before_post_render/backtick_code_block), and every
`<code>` element of the rendered HTML afterwards (hexo/lib/extend/tag.ts `rCodeTag`): so inline code is
what the Markdown renderer made inline code, and a stray backtick is plain text. A tag is rendered only
when its token lands outside code. The built-in tags are rendered as Hexo renders them (see
hexo/lib/plugins/tag/), and the text-bearing tags of popular themes (NexT, Butterfly) as they show; an
unknown tag becomes a warning, never text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from newsetl.posts.link_targets import LinkTarget

# One tag: `{% name args %}` (Nunjucks also allows `{%- ... -%}`).
TAG_RE = re.compile(r"\{%-?\s*([A-Za-z_][\w-]*)(.*?)-?%\}", re.S)
# A Nunjucks variable `{{ expr }}` (group 1) or comment `{# ... #}` (Hexo's PostRenderEscape finds the same).
VARIABLE_RE = re.compile(r"\{\{(.*?)\}\}|\{#.*?#\}", re.S)
NAME_PATH = re.compile(r"-?\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*-?")
ARG_RE = re.compile(r'"([^"]*)"|\'([^\']*)\'|(\S+)')
URL_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?//\S+$")  # scheme://host... or //host...
META_RE = re.compile(r"""["']?([^"']+)?["']?\s*["']?([^"']+)?["']?""")
FULL_CITE = re.compile(r"(\S.*)\s+(https?://\S+)\s+(.+)", re.I)
CITE = re.compile(r"(\S.*)\s+(https?://\S+)", re.I)
AUTHOR_TITLE = re.compile(r"(.+?)\s*,\s*(.+)")
CODE_OPTIONS = frozenset("lang line_number line_threshold first_line mark wrap highlight from to".split())
TOKEN = "\ue000{}\ue001"
# A token, also as the Markdown renderer %-encodes it in a link or image URL (`[x]({% post_path a %})`).
TOKEN_RE = re.compile("(?:\ue000|%EE%80%80)(\\d+)(?:\ue001|%EE%80%81)")
BLOCK_TOKEN_RE = re.compile("<p>\ue000(\\d+)\ue001</p>")
CODE_ELEMENT = re.compile(r"<code[^<>]*>[\s\S]+?</code>")  # Hexo's rCodeTag: its tags stay text
# Tags that take a body up to `{% endname %}`.
BLOCK_TAGS = frozenset("blockquote quote codeblock code pullquote raw".split())
EMBEDS = {"youtube": "https://www.youtube.com/embed/{}", "vimeo": "https://player.vimeo.com/video/{}"}


@dataclass(slots=True)
class TagContext:
    """What the tags of one post may refer to."""

    asset_ref: Callable[[str], str]                # asset file name -> the image reference stored for it
    asset_url: Callable[[str], str]                # asset file name -> its public URL (asset_path, asset_link)
    code_file: Callable[[str], Path | None]        # include_code path -> a file inside the site, or None
    markdown: Callable[[str], str]                 # renders a tag body (blockquote, pullquote) as Hexo does
    find_post: Callable[[str], LinkTarget | None] = lambda slug: None  # post_link slug -> the post it names
    data: dict = field(default_factory=dict)      # what `{{ name }}` may name: the post's front matter
    warnings: list[str] = field(default_factory=list)
    pending: list[tuple[str, Callable[[], str]]] = field(default_factory=list)  # per token: its text, renderer
    post_links: list[str] = field(default_factory=list)  # slugs named by post_link / post_path, in order


def split_args(text: str) -> list[str]:
    """Tag arguments split on spaces, quotes grouping words (quotes removed), like Hexo's tag parser."""
    return [next(g for g in m.groups() if g is not None) for m in ARG_RE.finditer(text.strip())]


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of fenced code blocks, where tags are plain text (inline code is left to the
    Markdown renderer: `restore_tags` keeps the tags it put in `<code>` as text)."""
    spans: list[tuple[int, int]] = []
    position = 0
    fence: tuple[str, int] | None = None
    start = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if fence is None:
            match = re.match(r"(`{3,}|~{3,})(.*)$", stripped.rstrip("\r\n")) if indent <= 3 else None
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence, start = (match.group(1)[0], len(match.group(1))), position
        else:
            match = re.match(r"(`{3,}|~{3,})\s*$", stripped) if indent <= 3 else None
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= fence[1]:
                spans.append((start, position + len(line)))
                fence = None
        position += len(line)
    if fence is not None:
        spans.append((start, len(text)))
    return spans


def _inside(index: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= index < b for a, b in spans)


def expand_tags(text: str, ctx: TagContext) -> str:
    """Replace every tag (and block tag with its body) outside fenced code by a placeholder token; it is
    rendered (with its warnings) only if `restore_tags` finds its token outside code."""
    spans = protected_spans(text)
    out: list[str] = []
    position = 0
    while True:
        match = _next_tag(text, position, spans)
        if match is None:
            out.append(_variables(text, position, len(text), spans, ctx))
            return "".join(out)
        name, args = match.group(1), match.group(2)
        end = match.end()
        out.append(_variables(text, position, match.start(), spans, ctx))
        if name.startswith("end"):  # a stray end tag: dropped, noted
            render = _noted(f"tag '{name}' without its opening tag", lambda: "", ctx)
        else:
            closing = _closing(text, name, end, spans)
            body = None if closing is None else text[end:closing.start()]
            end = end if closing is None else closing.end()
            render = partial(render_tag, name, split_args(args), body, ctx)
            if closing is None and name in BLOCK_TAGS:
                render = _noted(f"tag '{name}' is not closed with {{% end{name} %}}", render, ctx)
        out.append(_token(text[match.start():end], render, ctx))
        position = end


def _token(source: str, render: Callable[[], str], ctx: TagContext) -> str:
    ctx.pending.append((source, render))
    return TOKEN.format(len(ctx.pending) - 1)


def _noted(warning: str, render: Callable[[], str], ctx: TagContext) -> Callable[[], str]:
    def noted() -> str:
        ctx.warnings.append(warning)
        return render()
    return noted


def _variables(text: str, start: int, end: int, spans: list[tuple[int, int]], ctx: TagContext) -> str:
    """`text[start:end]` with each Nunjucks variable outside fenced code swapped for a token of its value,
    and each `{# comment #}` removed, as Hexo's PostRenderEscape does before the Markdown renderer."""
    out: list[str] = []
    position = start
    for match in VARIABLE_RE.finditer(text, start, end):
        if _inside(match.start(), spans) or match.start() < position:
            continue
        out.append(text[position:match.start()])
        if match.group(1) is not None:
            out.append(_token(match.group(0), partial(render_variable, match.group(1), ctx), ctx))
        position = match.end()
    out.append(text[position:end])
    return "".join(out)


def render_variable(expression: str, ctx: TagContext) -> str:
    """`{{ name }}` or `{{ a.b }}`: the front-matter value, HTML-escaped; an unknown name renders empty, as in
    Nunjucks. Filters and other expressions are not evaluated: empty, and a warning."""
    match = NAME_PATH.fullmatch(expression)
    if match is None:
        ctx.warnings.append(f"template expression {{{{ {expression.strip()} }}}} not rendered")
        return ""
    value: object = ctx.data
    for part in match.group(1).split("."):
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
    return _e(_js_text(value))


def _js_text(value: object) -> str:
    """A value as JavaScript's String() shows it (lists joined by ',', true/false); dates in ISO form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join("" if v is None else _js_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _next_tag(text: str, position: int, spans: list[tuple[int, int]]) -> re.Match | None:
    for match in TAG_RE.finditer(text, position):
        if not _inside(match.start(), spans):
            return match
    return None


def _closing(text: str, name: str, position: int, spans: list[tuple[int, int]]) -> re.Match | None:
    """The `{% endname %}` that closes a block tag opened before `position` (outside code)."""
    pattern = re.compile(r"\{%-?\s*end" + re.escape(name) + r"\s*-?%\}")
    return next((m for m in pattern.finditer(text, position) if not _inside(m.start(), spans)), None)


def restore_tags(rendered: str, ctx: TagContext) -> str:
    """Put each tag's HTML where its token ended up (a token alone in a paragraph replaces the paragraph);
    a token inside a `<code>` element gets the tag's own text back, as Hexo leaves tags in code. The tags
    are rendered in the order they appear in the text."""
    rendered = CODE_ELEMENT.sub(lambda m: TOKEN_RE.sub(lambda t: _code_text(ctx.pending[int(t.group(1))][0]),
                                                       m.group(0)), rendered)
    outputs = {i: ctx.pending[i][1]() for i in sorted({int(m.group(1)) for m in TOKEN_RE.finditer(rendered)})}
    rendered = BLOCK_TOKEN_RE.sub(lambda m: outputs[int(m.group(1))], rendered)
    return TOKEN_RE.sub(lambda m: outputs[int(m.group(1))], rendered)


def _code_text(source: str) -> str:
    """A tag's text as the Markdown renderer escapes code (markdown-it escapeHtml: & < > ")."""
    return html.escape(source, quote=False).replace('"', "&quot;")


# -- the tags ---------------------------------------------------------------------------------------------

def render_tag(name: str, args: list[str], body: str | None, ctx: TagContext) -> str:
    renderer = TAGS.get(name)
    if renderer is None:
        ctx.warnings.append(f"unknown tag plugin '{name}'")
        return ctx.markdown(body) if body and body.strip() else ""
    return renderer(args, body or "", ctx)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _attrs(**values: str | None) -> str:
    return "".join(f' {k.rstrip("_")}="{_e(v)}"' for k, v in values.items() if v)


def blockquote(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% blockquote [author[, source]] [link] [source_link_title] %}`."""
    text = " ".join(args)
    author = source = title = ""
    if match := FULL_CITE.match(text):
        author, source, title = match.groups()
    elif match := CITE.match(text):
        author, source = match.groups()
    elif match := AUTHOR_TITLE.match(text):
        author, title = match.groups()
    else:
        author = text
    footer = f"<strong>{_e(author)}</strong>" if author else ""
    if source:
        shown = title or _short_link(source)
        footer += f' <cite><a href="{_e(source)}">{_e(shown)}</a></cite>'
    elif title:
        footer += f" <cite>{_e(title)}</cite>"
    footer = f"<footer>{footer.strip()}</footer>" if footer else ""
    return f"<blockquote>{ctx.markdown(body)}{footer}</blockquote>"


def _short_link(url: str) -> str:
    link = re.sub(r"^https?://|/(index\.html?)?$", "", url)
    if len(link) <= 32:
        return link
    parts, shown = link.split("/"), ""
    for part in parts:  # Hexo truncates at a '/' to 32 characters, ending with '...'
        if len(shown) + len(part) + 1 > 29:
            break
        shown = f"{shown}/{part}" if shown else part
    return shown + "..."


def pullquote(args: list[str], body: str, ctx: TagContext) -> str:
    classes = " ".join(["pullquote", *args])
    return f'<blockquote class="{_e(classes)}">{ctx.markdown(body)}</blockquote>'


def code_figure(code: str, lang: str | None, caption: str | None, url: str | None, link_text: str | None) -> str:
    """A code block as Hexo's highlight wrapper renders it (highlighting itself left out)."""
    figcaption = ""
    if caption or url:
        link = f'<a href="{_e(url)}">{_e(link_text or "link")}</a>' if url else ""
        figcaption = f"<figcaption><span>{_e(caption or '')}</span> {link}</figcaption>"
    figure_class, code_class = (f"highlight {_e(lang)}", f' class="language-{_e(lang)}"') if lang else ("highlight", "")
    return f'<figure class="{figure_class}">{figcaption}<pre><code{code_class}>{_e(code)}</code></pre></figure>'


def _code_args(args: list[str]) -> tuple[dict[str, str], list[str]]:
    options, rest = {}, []
    for arg in args:
        key, sep, value = arg.partition(":")
        if sep and key in CODE_OPTIONS:
            options[key] = value
        else:
            rest.append(arg)
    return options, rest


def codeblock(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% codeblock [title] [lang:language] [url] [link text] [options] %}`."""
    options, rest = _code_args(args)
    caption = url = link_text = None
    for i, arg in enumerate(rest):
        if URL_RE.match(arg):
            caption, url, link_text = " ".join(rest[:i]) or None, arg, " ".join(rest[i + 1:]) or None
            break
    else:
        caption = " ".join(rest) or None
    return code_figure(body.strip("\n"), options.get("lang"), caption, url, link_text)


def include_code(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% include_code [title] [lang:language] [from:line] [to:line] path %}`: only files inside the site."""
    options, rest = _code_args(args)
    if not rest:
        ctx.warnings.append("include_code without a file")
        return ""
    relative, title = rest[-1], " ".join(rest[:-1]) or rest[-1].rsplit("/", 1)[-1]
    path = ctx.code_file(relative)
    if path is None:
        ctx.warnings.append(f"include_code: {relative} not found in the site's code_dir")
        return ""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    first = int(options.get("from") or 1)
    last = int(options.get("to") or len(lines))
    return code_figure("\n".join(lines[first - 1:last]), options.get("lang"), title, None, None)


def img(args: list[str], body: str, ctx: TagContext, src: str | None = None) -> str:
    """`{% img [class names] /path/to/image [width] [height] [title text [alt text]] %}`."""
    classes: list[str] = []
    args = list(args)
    while src is None and args:
        item = args.pop(0)
        if URL_RE.match(item) or item.startswith("/"):
            src = item
        else:
            classes.append(item)
    if not src:
        ctx.warnings.append("img tag without an image URL")
        return ""
    width = height = title = alt = None
    if args and args[0].isdigit():
        width = args.pop(0)
        if args and args[0].isdigit():
            height = args.pop(0)
    if args and (meta := META_RE.match(" ".join(args))):
        title, alt = meta.group(1), meta.group(2)
    return f"<img{_attrs(src=src, class_=' '.join(classes), width=width, height=height, title=title, alt=alt or title)}>"


def _asset_slug(args: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(classes, slug, the rest): the slug is the first argument that looks like a file name."""
    for i, arg in enumerate(args):
        if "." in arg or "/" in arg:
            return args[:i], arg, args[i + 1:]
    return [], (args[0] if args else None), args[1:]


def asset_img(args: list[str], body: str, ctx: TagContext) -> str:
    classes, slug, rest = _asset_slug(args)
    if not slug:
        ctx.warnings.append("asset_img without a file name")
        return ""
    return img(classes + rest, body, ctx, src=ctx.asset_ref(slug))


def asset_path(args: list[str], body: str, ctx: TagContext) -> str:
    return _e(ctx.asset_url(args[0])) if args else ""


def asset_link(args: list[str], body: str, ctx: TagContext) -> str:
    if not args:
        return ""
    title = " ".join(a for a in args[1:] if a not in ("true", "false")) or args[0]
    return f'<a href="{_e(ctx.asset_url(args[0]))}" title="{_e(title)}">{_e(title)}</a>'


def _linked_post(args: list[str], ctx: TagContext, tag: str) -> LinkTarget | None:
    """The post a post_link/post_path names (noted in `ctx.post_links`); a warning when there is none."""
    ctx.post_links.append(args[0])
    target = ctx.find_post(args[0])
    if target is None:
        ctx.warnings.append(f"{tag}: no post {args[0]!r} in this site")
    return target


def post_link(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% post_link slug [title] [escape] %}`: a link to the post with that slug (else title), showing its
    title unless one is given, as hexo/lib/plugins/tag/post_link does; an unknown post: its text, a warning."""
    if not args:
        ctx.warnings.append("post_link without a post")
        return ""
    args = list(args)
    escape = args.pop() != "false" if len(args) > 1 and args[-1] in ("true", "false") else True
    target = _linked_post(args, ctx, "post_link")
    given = " ".join(args[1:])
    if target is None:
        return _e(given or args[0])
    text = given or target.title
    return f'<a{_attrs(href=target.url, title=target.title)}>{_e(text) if escape else text}</a>'


def post_path(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% post_path slug %}`: the URL of the post with that slug; nothing when it is unknown (as Hexo)."""
    if not args:
        return ""
    target = _linked_post(args, ctx, "post_path")
    return _e(target.url or "") if target is not None else ""


def link(args: list[str], body: str, ctx: TagContext) -> str:
    """`{% link text url [external] [title] %}`."""
    for i, arg in enumerate(args):
        if URL_RE.match(arg):
            text, url, rest = " ".join(args[:i]), arg, args[i + 1:]
            break
    else:
        ctx.warnings.append("link tag without a URL")
        return _e(" ".join(args))
    if rest and rest[0] in ("true", "false"):
        rest = rest[1:]
    return f'<a{_attrs(href=url, title=" ".join(rest) or None)}>{_e(text or url)}</a>'


def iframe(args: list[str], body: str, ctx: TagContext) -> str:
    if not args:
        return ""
    width, height = (args[1:3] + [None, None])[:2]
    return (f'<iframe{_attrs(src=args[0], width=width or "100%", height=height or "300")} frameborder="0" '
            f'loading="lazy" allowfullscreen></iframe>')


def video(kind: str) -> Callable[[list[str], str, TagContext], str]:
    def render(args: list[str], body: str, ctx: TagContext) -> str:
        if not args:
            return ""
        src = EMBEDS[kind].format(args[0])
        return (f'<div class="video-container"><iframe src="{_e(src)}" frameborder="0" loading="lazy" '
                f'allowfullscreen></iframe></div>')
    return render


def raw(args: list[str], body: str, ctx: TagContext) -> str:
    return body


# -- tags of popular themes (NexT, Butterfly): what a reader sees of them --------------------------------------
# Hexo itself knows none of these, but blogs are full of them. Each is read as its theme reads its arguments
# (most `args.join(' ').split(',')`, in the themes' scripts/tags/*.js); the text a reader sees is kept, the
# styling is not. Diagram and chart tags hold source text: a code block in that language.

def _comma_part(args: list[str], index: int) -> str:
    """The `index`-th comma-separated argument, as the themes read them (`args.join(' ').split(',')`)."""
    parts = " ".join(args).split(",")
    return parts[index].strip() if index < len(parts) else ""


def _comma_text(index: int) -> Callable[[list[str], str, TagContext], str]:
    """An inline tag whose text is its `index`-th comma-separated argument: Butterfly's `{% btn url,text,icon %}`
    and `{% hideInline content,display,bg,color %}`, NexT's `{% button url, text, icon %}`."""
    return lambda args, body, ctx: _e(_comma_part(args, index))


def label(args: list[str], body: str, ctx: TagContext) -> str:
    """NexT's `{% label [class]@text %}`, Butterfly's `{% label text [color] %}`: the text."""
    joined = " ".join(args)
    return _e(joined.split("@", 1)[1].strip() if "@" in joined else (args[0] if args else ""))


def titled_block(args: list[str], body: str, ctx: TagContext) -> str:
    """Butterfly's `{% hideToggle display,bg,color %}` ... (and hideBlock): the toggle's label, then the body."""
    title = _comma_part(args, 0)
    return (f"<p>{_e(title)}</p>\n" if title else "") + (ctx.markdown(body) if body.strip() else "")


def diagram(lang: str, args_are_code: bool = False) -> Callable[[list[str], str, TagContext], str]:
    """`{% mermaid graph TD %}` ... (its arguments are the diagram's first line), `{% echarts 400 85% %}` JSON
    ..., `{% plantuml %}`: the source as a code block, never prose line by line."""
    def render(args: list[str], body: str, ctx: TagContext) -> str:
        code = body.strip("\n")
        if args_are_code and args:
            code = " ".join(args) + "\n" + code
        return code_figure(code, lang, None, None, None)
    return render


TAGS: dict[str, Callable[[list[str], str, TagContext], str]] = {
    "blockquote": blockquote, "quote": blockquote, "pullquote": pullquote,
    "codeblock": codeblock, "code": codeblock, "include_code": include_code,
    "img": img, "image": img, "asset_img": asset_img, "asset_image": asset_img, "asset_path": asset_path,
    "asset_link": asset_link, "post_link": post_link, "post_path": post_path, "link": link,
    "iframe": iframe, "youtube": video("youtube"), "vimeo": video("vimeo"), "raw": raw,
    # themes
    "label": label, "btn": _comma_text(1), "button": _comma_text(1), "hideInline": _comma_text(0),
    "hideToggle": titled_block, "hideBlock": titled_block,
    "mermaid": diagram("mermaid", args_are_code=True), "echarts": diagram("json"), "chartjs": diagram("json"),
    "plantuml": diagram("plantuml"), "flowchart": diagram("flowchart"),
}
