"""Feed documents (RSS 0.9x/1.0/2.0, Atom) -> `ParsedPost`s, keeping each item's raw HTML.

feedparser does the parsing; its HTML sanitiser and relative-URI rewriting are switched off so that newsetl's
own cleaning step decides what is boilerplate.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.sax import SAXException, SAXParseException

import feedparser

from newsetl.errors import RejectError
from newsetl.models import ParsedPost, Reject

# feedparser "bozo" exceptions that still leave a correct parse: a charset declared twice differently, or a
# feed served as text/plain. Anything else (not well-formed XML) rejects the whole feed.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass(slots=True)
class FeedParse:
    """Items of one feed document: parsed posts and the items that could not be used."""

    title: str
    version: str
    posts: list[ParsedPost] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def item_hash(title: str, link: str, published: datetime | None, author: str | None,
              categories: list[str], body: str) -> str:
    """sha256 of everything an item contributes: equal hash = unchanged item."""
    parts = [title, link, published.isoformat() if published else "", author or "", "\x1e".join(categories), body]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _describe(exc: BaseException) -> str:
    """One line for a parser error, with the position when the XML parser gave one."""
    if isinstance(exc, SAXParseException):
        return f"{exc.getMessage()} at line {exc.getLineNumber()}"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def parse_document(data: bytes, content_type: str | None = None) -> feedparser.FeedParserDict:
    """feedparser's result for a fetched body; RejectError when it is not a usable RSS/Atom document."""
    headers = {"content-type": content_type} if content_type else {}
    # A file-like object: feedparser would treat bytes or str as a path or URL to open.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers,
                              sanitize_html=False, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    if isinstance(problem, _HARMLESS_BOZO):
        problem = None
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    if not parsed.get("version"):
        media = (content_type or "").split(";")[0].strip().lower()
        if not start:
            raise RejectError("parse", "not an RSS/Atom feed: empty response body")
        if start.startswith((b"<!doctype html", b"<html")) or media in ("text/html", "application/xhtml+xml"):
            raise RejectError("parse", f"not an RSS/Atom feed: got an HTML page ({media or 'no content type'})")
        if not start.startswith(b"<"):
            raise RejectError("parse", f"not an RSS/Atom feed: the body is not XML ({media or 'no content type'})")
        if problem is not None:
            raise RejectError("parse", f"malformed XML: {_describe(problem)}")
        raise RejectError("parse", "not an RSS/Atom feed: no rss, rdf or feed root element")
    if problem is not None:
        kind = "malformed XML" if isinstance(problem, SAXException) else "unreadable feed"
        raise RejectError("parse", f"{kind}: {_describe(problem)}")
    return parsed


def _published(entry: feedparser.FeedParserDict) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    return datetime.fromtimestamp(calendar.timegm(stamp), tz=timezone.utc)


def _body(entry: feedparser.FeedParserDict) -> str:
    """The fullest HTML the item carries: Atom content / content:encoded, else description/summary."""
    for content in entry.get("content") or []:
        if content.get("value", "").strip():
            return content["value"]
    return entry.get("summary") or entry.get("description") or ""


def _image(entry: feedparser.FeedParserDict) -> str | None:
    for thumb in entry.get("media_thumbnail") or []:
        if thumb.get("url"):
            return thumb["url"]
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return link.get("href")
    return None


def entry_to_post(entry: feedparser.FeedParserDict, *, source: str, source_type: str,
                  categories: list[str]) -> ParsedPost:
    """One feed item as a ParsedPost; RejectError when it has no identity or no title."""
    link = (entry.get("link") or "").strip()
    locator = (entry.get("id") or "").strip() or link
    if not locator:
        raise RejectError("parse", "item has neither a guid/id nor a link")
    title = (entry.get("title") or "").strip()
    if not title:
        raise RejectError("parse", "item has no title")
    item_categories = [t["term"].strip() for t in entry.get("tags") or [] if (t.get("term") or "").strip()]
    # The configured category path places the feed in the hierarchy; item tags only when none is configured.
    path = list(categories) or item_categories
    author = (entry.get("author") or "").strip() or None
    published = _published(entry)
    body = _body(entry)
    image = _image(entry)
    return ParsedPost(
        source=source,
        source_type=source_type,
        locator=locator,
        file_hash=item_hash(title, link, published, author, path, body),
        title=title,
        body_html=body,
        url=link or None,
        author=author,
        published_at=published,
        categories=path,
        headimg=image,
        thumbnail=image,
    )


def parse_feed(data: bytes, *, source: str, categories: list[str], content_type: str | None = None,
               source_type: str = "feed") -> FeedParse:
    """All items of a feed document; a bad item is a Reject, a bad document raises RejectError."""
    parsed = parse_document(data, content_type)
    result = FeedParse(title=parsed.feed.get("title", ""), version=parsed.version)
    seen: set[str] = set()
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            post = entry_to_post(entry, source=source, source_type=source_type, categories=categories)
        except RejectError as exc:
            locator = entry.get("id") or entry.get("link") or f"item #{number}"
            result.rejects.append(Reject(source, locator, exc.stage, exc.reason))
            continue
        if post.locator in seen:  # a feed listing the same guid twice: keep the first (newest) one
            continue
        seen.add(post.locator)
        result.posts.append(post)
    return result
