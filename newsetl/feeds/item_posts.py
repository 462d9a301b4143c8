"""Feed items in format-neutral form (`Item`) and the repairs that turn them into `ParsedPost`s.

Shared by the RSS/Atom reader (`newsetl.feeds.items`) and the JSON Feed reader (`newsetl.feeds.jsonfeed`):
an item without a title gets one from its text (first sentence, bounded) or its date, an item with neither
guid nor link a stable id from the feed URL and its content (each repair listed on the post); only an item
with no title and no text is rejected; later items repeating a guid are dropped and counted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import lxml.html
from lxml import etree

from newsetl.errors import RejectError
from newsetl.models import FeedWarning, ParsedPost, Reject

TITLE_CHARS = 60
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s|\n")


@dataclass(slots=True)
class FeedParse:
    """Items of one feed document: parsed posts, the items that could not be used, and a feed-level warning."""

    title: str
    version: str
    posts: list[ParsedPost] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warning: str | None = None      # a recovered problem (malformed XML, wrong charset): the items still load
    entries: int = 0                # items in the document (before rejects and duplicate guids)
    duplicates: int = 0             # items dropped because an earlier item had the same guid


@dataclass(slots=True)
class Item:
    """One feed item in format-neutral form, before repairs."""

    title: str
    link: str
    guid: str
    body: str                       # HTML
    published: datetime | None
    author: str | None
    tags: list[str]
    media: list[tuple[str, str]]    # (role, url): enclosure, media, thumbnail
    base: str | None                # where relative URLs in `body` point from


def item_hash(title: str, link: str, published: datetime | None, author: str | None,
              categories: list[str], body: str) -> str:
    """sha256 of everything an item contributes: equal hash = unchanged item."""
    parts = [title, link, published.isoformat() if published else "", author or "", "\x1e".join(categories), body]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def text_of(body: str) -> str:
    """The visible text of an item's HTML, whitespace collapsed ("" when lxml finds no document in it)."""
    if not body.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(body, create_parent="div")
    except (etree.ParserError, ValueError):  # e.g. a lone "<!DOCTYPE": nothing a browser would show
        return ""
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    return " ".join(root.text_content().split())


_STRAY_BANG = re.compile(r"<!(?!--|\[CDATA\[|doctype)", re.I)


def _parses(body: str) -> bool:
    try:
        lxml.html.fragment_fromstring(body, create_parent="div")
    except (etree.ParserError, ValueError):
        return False
    return True


def readable_html(body: str) -> str:
    """`body` as lxml can read it. A stray "<!" that is no comment, CDATA or doctype is text, as feedparser
    reads it ("&lt;!' <a href=...>"), not the bogus comment lxml would make of it (hiding what follows);
    "" when no HTML document is left (a lone "<!DOCTYPE": nothing a browser would show)."""
    if not body.strip():
        return body
    escaped = _STRAY_BANG.sub("&lt;!", body)
    if escaped != body and _parses(escaped):
        return escaped
    return body if _parses(body) else ""


def derived_title(text: str, published: datetime | None) -> str:
    """A title for an untitled item: its first sentence (at most TITLE_CHARS), else its date."""
    if text:
        first = _SENTENCE_END.split(text, maxsplit=1)[0].strip() or text
        return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS - 1].rstrip() + "…"
    return f"Untitled item of {published:%Y-%m-%d %H:%M} UTC" if published else "Untitled item"


def stable_id(feed_url: str, item: Item) -> str:
    """An id for an item with neither guid nor link: the feed URL and the item's content, hashed."""
    parts = [feed_url, item.title, item.body, item.published.isoformat() if item.published else "",
             "\x1e".join(url for _, url in item.media)]
    return "urn:newsetl:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def item_post(item: Item, *, source: str, source_type: str, categories: list[str], feed_url: str) -> ParsedPost:
    """One feed item as a ParsedPost, repaired where it can be; RejectError when it has no title and no text."""
    repairs: list[str] = []
    item.body = readable_html(item.body)
    text = text_of(item.body)
    title = item.title
    if not title:
        if not text and not item.media:  # nothing to show: no title, no text, no picture
            raise RejectError("parse", "item has no title and no text")
        title = derived_title(text, item.published)
        repairs.append("title from text" if text else "title from date")
    locator = item.guid or item.link
    if not locator:
        locator = stable_id(feed_url, item)
        repairs.append("id from feed URL and content")
    # The configured category path places the feed in the hierarchy; item tags only when none is configured.
    path = list(categories) or item.tags
    thumbnail = next((url for role, url in item.media if role == "thumbnail"), None)
    return ParsedPost(
        source=source, source_type=source_type, locator=locator,
        file_hash=item_hash(title, item.link, item.published, item.author, path,
                            item.body + "".join(url for _, url in item.media)),
        title=title, body_html=item.body, url=item.link or None, author=item.author,
        published_at=item.published, categories=path, headimg=thumbnail, thumbnail=thumbnail,
        media=[(role, url) for role, url in item.media if role != "thumbnail"],
        base_url=item.base, repairs=repairs,
    )


def posts_from_items(items: list[tuple[str, Item | RejectError]], result: FeedParse, *, source: str,
                     source_type: str, categories: list[str], feed_url: str) -> FeedParse:
    """Turn items into posts (one Reject per unusable item, later duplicates of a guid dropped)."""
    seen: set[str] = set()
    result.entries = len(items)
    for fallback_locator, item in items:
        try:
            if isinstance(item, RejectError):
                raise item
            post = item_post(item, source=source, source_type=source_type, categories=categories,
                             feed_url=feed_url)
        except RejectError as exc:
            result.rejects.append(Reject(source, fallback_locator, exc.stage, exc.reason))
            continue
        if post.locator in seen:  # a feed listing the same guid twice: keep the first (newest) one
            result.duplicates += 1
            continue
        seen.add(post.locator)
        result.posts.append(post)
    return result


def feed_warnings(source: str, url: str, parsed: FeedParse) -> list[FeedWarning]:
    """What to record on the run about a feed whose items loaded: a recovered document, repeated guids, repairs."""
    warnings = []
    if parsed.warning:
        warnings.append(FeedWarning(source, url, "recovered", parsed.entries, parsed.warning))
    if parsed.duplicates:
        warnings.append(FeedWarning(source, url, "duplicate guid", parsed.duplicates,
                                    f"{parsed.duplicates} item(s) repeat the guid of an earlier item; the first is kept"))
    repaired = Counter(repair for post in parsed.posts for repair in post.repairs)
    if repaired:
        count = sum(1 for post in parsed.posts if post.repairs)
        warnings.append(FeedWarning(source, url, "repaired", count,
                                    "; ".join(f"{n} item(s): {what}" for what, n in sorted(repaired.items()))))
    return warnings
