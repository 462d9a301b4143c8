"""Records passed between pipeline steps: discover -> read -> parse -> clean -> load.

Every source type (Hexo folders, feeds, post URLs) produces `ParsedPost`s, and from there on all articles
take the same clean and load path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


def article_id_for(source: str, locator: str) -> str:
    """Stable article id: the same source name and locator give the same id on every machine."""
    return hashlib.sha256(f"{source}\x1f{locator}".encode("utf-8")).hexdigest()[:20]


@dataclass(slots=True)
class InputRef:
    """One discovered input: a file in a Hexo folder, a post URL or a feed item."""

    source: str
    source_type: str
    locator: str          # stable within the source: relative POSIX path, URL or guid
    path: str             # where to read it from now (absolute local path, or URL)
    file_hash: str        # sha256 of the raw bytes
    size: int
    url: str | None = None
    data: bytes | None = None  # the raw bytes when discovery already read them (each file is read once)


@dataclass(slots=True)
class RawPost:
    """Decoded text of one input, before parsing."""

    ref: InputRef
    text: str


@dataclass(slots=True)
class ParsedPost:
    """Front matter (or feed item fields) and the raw HTML body of one article."""

    source: str
    source_type: str
    locator: str
    file_hash: str
    title: str
    body_html: str
    url: str | None = None
    author: str | None = None
    published_at: datetime | None = None  # timezone-aware (UTC)
    categories: list[str] = field(default_factory=list)
    headimg: str | None = None
    thumbnail: str | None = None
    summary: str | None = None
    article_id: str = ""
    # Hexo posts (newsetl/posts/hexo_post.py): what their front matter and Markdown bodies add
    body_format: str = "html"            # html | markdown (the body was rendered from Markdown)
    date_source: str | None = None       # front_matter | file_name | file_mtime
    source_updated_at: datetime | None = None  # front matter `updated`
    tags: list[str] = field(default_factory=list)
    lang: str | None = None
    covers: list[str] = field(default_factory=list)  # cover, banner, featured_image, photos
    local: object | None = None          # hexo_post.LocalImages: relative image paths -> files on disk
    warnings: list[str] = field(default_factory=list)  # e.g. unknown tag plugins
    post_links: list[str] = field(default_factory=list)  # slugs its post_link / post_path tags name
    category_paths: list[list[str]] = field(default_factory=list)  # Hexo's category hierarchies: [[a, b], [c]]
    media: list[tuple[str, str]] = field(default_factory=list)  # (role, url): feed enclosures and media images
    base_url: str | None = None          # where the body's relative URLs point from (xml:base, feed URL)
    repairs: list[str] = field(default_factory=list)  # what the feed reader had to repair (derived title, id)
    site_href: str | None = None         # Hexo site without `url:`: root + permalink path (post_link's href)

    def __post_init__(self) -> None:
        if not self.article_id:
            self.article_id = article_id_for(self.source, self.locator)

    @property
    def link_base(self) -> str | None:
        """What the post's relative links and images resolve against: `base_url`, else the post's own URL."""
        return self.base_url or self.url


@dataclass(slots=True)
class ImageRef:
    """An image referenced by an article, in body order."""

    position: int
    role: str              # body | headimg | thumbnail | promo | decoration
    url: str
    alt: str | None = None
    caption: str | None = None
    roles: list[str] = field(default_factory=list)
    credit: str | None = None            # photo credit ("图片来源：…" after the image)


@dataclass(slots=True)
class Article:
    """A cleaned article, ready to load."""

    article_id: str
    source: str
    source_type: str
    locator: str
    file_hash: str
    url: str | None
    title: str
    author: str | None
    published_at: datetime | None
    categories: list[str]
    editor: str | None
    origin: str | None
    summary: str | None
    body_text: str
    body_html: str
    paragraphs: list[tuple[str, str]]   # (kind, text) in order
    images: list[ImageRef]
    content_hash: str
    rules_version: str
    body_format: str = "html"            # the Hexo fields of ParsedPost (issue 13)
    date_source: str | None = None
    source_updated_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    lang: str | None = None
    warnings: list[str] = field(default_factory=list)
    category_paths: list[list[str]] = field(default_factory=list)  # [[a, b], [c]]: a > b, and c
    heading_levels: dict[int, int] = field(default_factory=dict)  # paragraph position -> heading level 1-6
    code_langs: dict[int, str] = field(default_factory=dict)      # paragraph position -> code language
    byline: str | None = None            # the writer named in the text (作者：…, 记者 …)
    photo_credit: str | None = None      # the article's photo credit (题图来自：…, 图片来源：…)
    headline_only: bool = False          # a title (and link) without a body
    repairs: list[str] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return len(self.body_text)

    @property
    def paragraph_count(self) -> int:
        return sum(1 for kind, _ in self.paragraphs if kind != "caption")

    @property
    def image_count(self) -> int:
        return sum(1 for image in self.images if image.role not in ("promo", "decoration"))


@dataclass(slots=True)
class Reject:
    """An input that could not be processed, with the step that failed and why."""

    source: str
    locator: str
    stage: str
    error: str
    file_hash: str | None = None
    size: int | None = None


@dataclass(slots=True)
class FeedWarning:
    """A problem a feed had that did not stop its items from loading (recorded in `feed_warnings`)."""

    source: str
    url: str
    kind: str       # recovered | duplicate guid | repaired
    count: int      # items concerned
    message: str


class Batch:
    """A batch moving through the steps: the items of the current stage plus every reject so far.

    Deliberately a plain class, not a dataclass: Prefect walks dataclass task arguments and results
    (looking for futures to resolve), which for a batch of 1,000 articles costs seconds per task call.
    """

    __slots__ = ("items", "rejects", "tables", "skipped", "deferred", "hrefs")

    def __init__(self, items: list | None = None, rejects: list[Reject] | None = None,
                 tables: object | None = None, skipped: int = 0) -> None:
        self.items = items if items is not None else []
        self.rejects = rejects if rejects is not None else []
        self.skipped = skipped  # posts Hexo would not publish (`published: false`): counted, not rejected
        self.tables = tables  # cleaned batches: Arrow tables built by the worker (newsetl.posts.tables.ArticleTables)
        self.deferred: list = []  # posts prepared again once their post_link targets are known (posts/link_targets.py)
        self.hrefs: list[tuple[str, str, str]] = []  # (source, locator, ParsedPost.site_href) of its Hexo posts

    def __repr__(self) -> str:
        return f"Batch({len(self.items)} items, {len(self.rejects)} rejects)"
