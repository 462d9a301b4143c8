"""What a Hexo post says beyond the generator's fields: tags, updated, permalink, lang, covers, drafts,
dates from file names, local image paths, and its body rendered from Markdown when it is Markdown."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from newsetl.errors import RejectError
from newsetl.images.urls import LOCAL_SCHEME, resolve_local
from newsetl.models import InputRef, ParsedPost
from newsetl.posts.options import PostOptions
from newsetl.posts.hexo_tags import TagContext
from newsetl.posts.markdown import MORE_RE, detect_format, html_text, render_fragment, render_markdown

# Cover keys of popular themes: landscape/icarus (`cover`, `banner`, `photos`), Fluid (`index_img`, `banner_img`),
# Butterfly (`top_img`), and `featured_image`, `cover_image` (a real blog's, titangene/hexo-blog).
COVER_KEYS = ("cover", "banner", "featured_image", "photos", "cover_image", "index_img", "banner_img", "top_img")
DRAFT_DIR = "_drafts"
_HTML_SUFFIX = re.compile(r"\.html?$")
HEXO_DATE_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
                     "%Y.%m.%d %H:%M:%S", "%Y.%m.%d")


class SkippedPost(RejectError):
    """A post Hexo would not publish (`published: false`, a draft): counted, not rejected."""

    def __init__(self, reason: str) -> None:
        super().__init__("skipped", reason)


@dataclass(frozen=True, slots=True)
class LocalImages:
    """Turns a post's image references into keys of files on disk: `local:<source>/<path under root>`.

    A relative reference `x/a.png` is looked for where Hexo and a browser find it; the first that exists wins:
    (a) in the post's asset folder (`post_asset_folder`, as hexo-renderer-marked's `postAsset` maps it),
    (b) in the folder of the post's file (what Markdown editors such as Typora show), (c) at the URL the
    browser loads, the reference resolved against the post's page (`/article/p.html` + `../images/a.png` is
    `/images/a.png`), mapped back to the file Hexo publishes there (`published`). When none exists the key
    is (a), which the images step records as missing. A root-relative `/a.png` is `published` without a
    look at the disk. Nothing outside root is ever keyed (such a reference gives None)."""

    source: str
    root: str               # absolute: keys are relative to it, nothing outside it is ever read
    base: str               # absolute: (a), the post's asset folder, else its folder
    site_source: str        # absolute: where `/x.png` starts (the site's source/, else root)
    post_dir: str = ""      # absolute: (b), the folder of the post's file ("": only base)
    page: str | None = None  # the post's public path, `root` included, not %-encoded: `/2020/05/14/p/`
    url_root: str = "/"     # the site's `root`

    def key(self, ref: str) -> str | None:
        """The local key of a relative reference; None for URLs (left as they are) and paths outside root."""
        ref = ref.strip()
        if not ref or ref.startswith(("//", "#")) or urlsplit(ref).scheme:
            return None
        path = unquote(ref.split("?", 1)[0].split("#", 1)[0])
        if path.startswith("/"):
            return self.key_for(self.published(path) or os.path.join(self.site_source, path.lstrip("/")))
        found = os.path.join(self.base, path)
        candidates = [found, os.path.join(self.post_dir or self.base, path)]
        if self.page is not None:
            candidates.append(self.published(posixpath.normpath(posixpath.join(self._page_dir(), path))) or "")
        for candidate in dict.fromkeys(c for c in candidates if c):
            key = self.key_for(candidate)
            if key is not None and os.path.exists(os.path.normpath(candidate)):
                return key
        return self.key_for(found)

    def published(self, url_path: str) -> str | None:
        """The file Hexo publishes at a URL path of the site: under the post's asset URL (its page without
        `.html`, Hexo's PostAsset.path) a file of its asset folder, else `source/` + the path after root."""
        assets = self.asset_folder_url()
        if assets is not None and url_path.startswith(assets):
            return os.path.join(self.base, url_path[len(assets):])
        if url_path.startswith(self.url_root):
            return os.path.join(self.site_source, url_path[len(self.url_root):])
        return None

    def asset_folder_url(self) -> str | None:
        """Where the post's asset folder is published (`/article/p.html` -> `/article/p/`); None without one."""
        if self.page is None or self.post_dir == self.base or not self.post_dir:
            return None
        return asset_folder_path(self.page).rstrip("/") + "/"

    def _page_dir(self) -> str:
        assert self.page is not None
        return self.page if self.page.endswith("/") else posixpath.dirname(self.page) + "/"

    def key_for(self, path: str) -> str | None:
        """The local key of an absolute path; None when it leaves root."""
        resolved = os.path.normpath(path)
        if os.path.commonpath([resolved, self.root]) != self.root:
            return None
        return f"{LOCAL_SCHEME}{quote(self.source, safe='')}/{Path(resolved).relative_to(self.root).as_posix()}"


def tags_of(value: object) -> list[str]:
    """Hexo `tags`: a list (possibly nested) or a single value."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [tag for item in value for tag in tags_of(item)]
    if isinstance(value, dict):
        return []
    text = str(value).strip()
    return [text] if text else []


def category_paths(value: object) -> list[list[str]]:
    """Hexo's category hierarchies (hexo/lib/models/post.js setCategories): a list without nested lists is ONE
    hierarchy (`[a, b]`: a > b); with a nested list, each item is its own (`[[a, b], c]`: a > b, and c)."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    items = [item for item in items if isinstance(item, list) or _category_name(item)]
    if not any(isinstance(item, list) for item in items):
        return [[_category_name(item) for item in items]] if items else []
    paths = [[_category_name(c) for c in item if _category_name(c)] if isinstance(item, list)
             else [_category_name(item)] for item in items]
    return [path for path in paths if path]


def _category_name(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # a list inside a hierarchy: Hexo makes it one name ("x,y")
        return ",".join(_category_name(v) for v in value)
    return str(value).strip()


def covers_of(meta: dict) -> list[str]:
    """Cover images of popular themes (`COVER_KEYS`, each a list or one), in that order, each once."""
    found: list[str] = []
    for key in COVER_KEYS:
        value = meta.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip() and item.strip() not in found:
                found.append(item.strip())
    return found


def hexo_date_text(text: str) -> datetime | None:
    """Date strings moment.js reads and ISO does not: `2026/05/08 12:00`, `2018-7-24 23:31:06`."""
    for pattern in HEXO_DATE_FORMATS + ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    return None


def fallback_date(ref_path: str, locator: str, opts: PostOptions) -> tuple[datetime | None, str | None]:
    """A date for a post without one, as Hexo takes it: from the file name, else the file's mtime."""
    if opts.site is None:
        return None, None
    named = opts.site.file_name_date(locator, opts.zone)
    if named is not None:
        return named.astimezone(timezone.utc), "file_name"
    try:
        mtime = os.stat(ref_path).st_mtime
    except OSError:
        return None, None
    return datetime.fromtimestamp(mtime, timezone.utc), "file_mtime"


def asset_folder_path(post_path: str) -> str:
    """Where Hexo publishes a post's asset folder: the post's path without `.html` (PostAsset.path)."""
    return _HTML_SUFFIX.sub("", post_path)


def local_images(source: str, locator: str, opts: PostOptions, post_path: str | None = None) -> LocalImages | None:
    """Where a post's image references point on disk (None when the post is not a local file);
    `post_path`: its path under the site URL (Hexo's `post.path`), for references resolved as a browser does."""
    if opts.root is None:
        return None
    root = opts.local_root or opts.root
    post = opts.root / locator
    site = opts.site
    if site is not None and site.post_asset_folder and post.parent.is_relative_to(site.posts_dir):
        base = post.with_suffix("")
    else:
        base = post.parent
    site_source = site.source_root if site is not None else root
    page = f"{site.url_root}{post_path}" if site is not None and post_path is not None else None
    return LocalImages(source, str(root), str(base), str(site_source), str(post.parent), page,
                       site.url_root if site is not None else "/")


def tag_context(locator: str, local: LocalImages | None, opts: PostOptions, post_path: str | None,
                data: dict | None = None) -> TagContext:
    """The tag plugins' view of one post: its asset folder, its public path, the site's code_dir, the other
    posts (post_link) and its front matter (`{{ name }}`)."""

    def asset_ref(name: str) -> str:
        """An asset of the post: a file in its asset folder (the post's path without extension)."""
        if local is None or opts.root is None:
            return name
        return local.key_for(str((opts.root / locator).with_suffix("") / unquote(name))) or name

    def code_file(relative: str) -> Path | None:
        if opts.site is None:
            return None
        code_root = opts.site.source_root / opts.site.code_dir
        path = resolve_local(code_root, relative.lstrip("/"))
        return path if path is not None and path.is_file() else None

    def asset_url(name: str) -> str:
        """asset_path/asset_link: `root` + Hexo's PostAsset.path (the post's path without `.html`, joined
        with the name), %-encoded as Hexo's encodeURL; a post without a path: the name."""
        if post_path is None or opts.site is None:
            return name
        return opts.site.site_href(posixpath.join(asset_folder_path(post_path), unquote(name)))

    ctx = TagContext(asset_ref=asset_ref, asset_url=asset_url, code_file=code_file, markdown=lambda text: "",
                     data=data or {})
    if opts.links is not None:
        ctx.find_post = opts.links.find
    ctx.markdown = lambda text: render_fragment(text, ctx)
    return ctx


@dataclass(slots=True)
class Body:
    html: str
    body_format: str
    excerpt: str | None = None
    warnings: list[str] = field(default_factory=list)
    post_links: list[str] = field(default_factory=list)  # slugs named by post_link / post_path


def render_body(body: str, locator: str, local: LocalImages | None, opts: PostOptions,
                post_path: str | None = None, data: dict | None = None) -> Body:
    """The post body as HTML: unchanged when it is HTML, rendered as Hexo does when it is Markdown."""
    body_format = opts.body_format if opts.body_format != "auto" else detect_format(body)
    if body_format == "html":
        match = MORE_RE.search(body)
        return Body(body, "html", html_text(body[:match.start()]) or None if match else None)
    ctx = tag_context(locator, local, opts, post_path, data)
    rendered = render_markdown(body, ctx)
    excerpt = html_text(rendered.excerpt_html) if rendered.excerpt_html is not None else None
    return Body(rendered.html, "markdown", excerpt or None, rendered.warnings, ctx.post_links)


def post_path(locator: str, published: datetime | None, meta: dict, paths: list[list[str]], lang: str | None,
              opts: PostOptions) -> str | None:
    """The post's path under the site URL from the site's `permalink` (a front-matter `permalink` wins);
    `:category` is the last category with its parents, as Hexo's post_permalink filter gives it."""
    if opts.site is None:
        return None
    local = published.astimezone(opts.zone) if published is not None else None
    front = meta.get("permalink")
    return opts.site.post_path(locator, local, category=paths[-1] if paths else [], lang=lang,
                               front_permalink=str(front).strip() if front else None, front=meta)


def is_draft(locator: str) -> bool:
    return DRAFT_DIR in PurePosixPath(locator).parts


def _text(meta: dict, key: str) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, (list, dict, bool)):
        return None
    return str(value).strip() or None


def complete(post: ParsedPost, meta: dict, ref: InputRef, opts: PostOptions,
             parse_date: Callable[[object, ZoneInfo], datetime | None]) -> ParsedPost:
    """Add what Hexo's front matter and body conventions say to a parsed post; SkippedPost for drafts."""
    if meta.get("published") is False:
        raise SkippedPost("published: false")
    if ref.source_type == "hexo_dir" and is_draft(ref.locator):
        raise SkippedPost("a draft (_drafts/)")
    if post.published_at is not None:
        post.date_source = "front_matter"
    elif ref.source_type == "hexo_dir":
        post.published_at, post.date_source = fallback_date(ref.path, ref.locator, opts)
    post.source_updated_at = parse_date(meta.get("updated"), opts.zone)
    post.tags = tags_of(meta.get("tags"))
    post.lang = _text(meta, "lang") or _text(meta, "language")
    post.covers = covers_of(meta)
    post.category_paths = category_paths(meta.get("categories"))
    path = None
    if ref.source_type == "hexo_dir":
        path = post_path(ref.locator, post.published_at, meta, post.category_paths, post.lang, opts)
        post.local = local_images(ref.source, ref.locator, opts, path)
        if opts.site is not None:
            post.url = post.url or opts.site.public_url(path)
            post.site_href = None if opts.site.url else opts.site.site_href(path)
    body = render_body(post.body_html, ref.locator, post.local, opts, path, meta)
    post.body_html, post.body_format, post.warnings = body.html, body.body_format, body.warnings
    post.post_links = body.post_links
    post.summary = _text(meta, "excerpt") or body.excerpt or post.summary
    return post
