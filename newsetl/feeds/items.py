"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) -> `ParsedPost`s, keeping each item's raw HTML.

feedparser does the RSS/Atom parsing (`newsetl.feeds.jsonfeed` the JSON Feed one); its HTML sanitiser and
relative-URI rewriting are switched off so that newsetl's own cleaning step decides what is boilerplate.

Read the way feeds are in the wild:
- a malformed document from which feedparser still recovers entries is read; the problem comes back as the
  feed's `warning` (recorded on the run), not as a reject that would hide the loaded items;
- an item without a title gets one from its text (first sentence, bounded) or its date, an item with neither
  guid nor link a stable id from the feed URL and its content; each repair is listed on the post;
- an item with a title but no body is a headline-only article; only an item with no title and no text is
  rejected;
- `content:encoded` / Atom `content` is preferred over `description`/`summary`; Atom `type="text"` content is
  escaped into HTML, `xhtml` and `html` are taken as HTML;
- `media:content`, `media:thumbnail` and image enclosures become images with roles;
- links are resolved against `xml:base` and the feed URL.
"""

from __future__ import annotations

import calendar
import html
import io
import re
from datetime import datetime, timezone
from urllib.parse import urljoin
from xml.sax import SAXException, SAXParseException

import feedparser
from bs4.dammit import UnicodeDammit

from newsetl.errors import RejectError
from newsetl.feeds.item_posts import FeedParse, Item, feed_warnings, item_hash, posts_from_items, stable_id
from newsetl.feeds.jsonfeed import is_json_feed, parse_json_feed

# feedparser "bozo" exceptions that still leave a correct parse: a charset declared twice differently, or a
# feed served as text/plain.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
# What feedparser falls back to when neither the declared charset nor UTF-8 decodes the bytes: a guess.
_GUESSES = ("windows-1252", "iso-8859-2")
_XML_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']")
__all__ = ["FeedParse", "feed_warnings", "item_hash", "parse_document", "parse_feed", "stable_id"]


def _describe(exc: BaseException) -> str:
    """One line for a parser error, with the position when the XML parser gave one."""
    if isinstance(exc, SAXParseException):
        return f"{exc.getMessage()} at line {exc.getLineNumber()}"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def parse_document(data: bytes, content_type: str | None = None,
                   feed_url: str | None = None) -> tuple[feedparser.FeedParserDict, str | None]:
    """feedparser's result for a fetched body and a warning for a recovered problem.

    RejectError when the body is not a feed, or is malformed with no recoverable items.
    """
    headers = {"content-type": content_type} if content_type else {}
    if feed_url:
        headers["content-location"] = feed_url  # the base for relative links when there is no xml:base
    # A file-like object: feedparser would treat bytes or str as a path or URL to open.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers,
                              sanitize_html=False, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    detected = None
    if isinstance(problem, feedparser.CharacterEncodingOverride) and parsed.get("encoding") in _GUESSES:
        redone = _detected_charset(data, content_type, feed_url)
        if redone is not None:
            parsed, detected = redone
            problem = parsed.get("bozo_exception")
    if isinstance(problem, _HARMLESS_BOZO):
        problem = None
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    if not parsed.get("version") and not parsed.entries:
        media = (content_type or "").split(";")[0].strip().lower()
        if not start:
            raise RejectError("parse", "not an RSS/Atom feed: empty response body")
        if start.startswith((b"<!doctype html", b"<html")) or media in ("text/html", "application/xhtml+xml"):
            raise RejectError("parse", f"not an RSS/Atom feed: got an HTML page ({media or 'no content type'})")
        if not start.startswith(b"<"):
            raise RejectError("parse", f"not an RSS/Atom feed: the body is not XML ({media or 'no content type'})")
        if problem is not None:
            raise RejectError("parse", f"{_kind(problem)}: {_describe(problem)}")
        raise RejectError("parse", "not an RSS/Atom feed: no rss, rdf or feed root element")
    if problem is not None and not parsed.entries and not parsed.get("version"):
        raise RejectError("parse", f"{_kind(problem)}: {_describe(problem)}")
    warning = f"charset not declared or wrong: read as {detected} (detected)" if detected else None
    if problem is not None:
        count = len(parsed.entries)
        warning = f"{_kind(problem)}: {_describe(problem)} ({count} item{'s' if count != 1 else ''} recovered)"
    return parsed, warning


def _detected_charset(data: bytes, content_type: str | None,
                      feed_url: str | None) -> tuple[feedparser.FeedParserDict, str] | None:
    """Re-read a feed whose charset feedparser could only guess, in the charset the bytes show (bs4's
    detection: Big5, GB18030, EUC-*, Shift-JIS, KOI8-R ... undeclared), as feedparser does when chardet is
    installed. None when detection finds nothing better than feedparser's guess."""
    dammit = UnicodeDammit(data, is_html=False)
    found = (dammit.original_encoding or "").lower()
    if not found or dammit.unicode_markup is None or found in ("ascii", "utf-8", *_GUESSES, "iso-8859-1"):
        return None
    text = _XML_ENCODING.sub(r"\1", dammit.unicode_markup.removeprefix("\ufeff"), count=1)
    media = (content_type or "application/xml").split(";")[0].strip() or "application/xml"
    headers = {"content-type": f"{media}; charset=utf-8"}
    if feed_url:
        headers["content-location"] = feed_url
    parsed = feedparser.parse(io.BytesIO(text.encode("utf-8")), response_headers=headers,
                              sanitize_html=False, resolve_relative_uris=False)
    return parsed, found


def _kind(problem: BaseException) -> str:
    if isinstance(problem, feedparser.CharacterEncodingUnknown):
        return "undecodable feed"
    return "malformed XML" if isinstance(problem, SAXException) else "unreadable feed"


def _published(entry: feedparser.FeedParserDict) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(stamp), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):  # a year feedparser parsed but datetime cannot hold
        return None


def _html_of(detail: feedparser.FeedParserDict) -> str:
    """A text construct as HTML: plain text is escaped (paragraphs kept), HTML and XHTML taken as they are."""
    value = detail.get("value") or ""
    if (detail.get("type") or "text/html") == "text/plain":
        return "".join(f"<p>{html.escape(block)}</p>" for block in re.split(r"\n\s*\n", value) if block.strip())
    return value


def _body(entry: feedparser.FeedParserDict) -> tuple[str, str | None]:
    """The fullest HTML the item carries and its base: Atom content / content:encoded, else the summary."""
    for content in entry.get("content") or []:
        if (content.get("value") or "").strip():
            return _html_of(content), content.get("base")
    detail = entry.get("summary_detail")
    if detail and (detail.get("value") or "").strip():
        return _html_of(detail), detail.get("base")
    return entry.get("summary") or entry.get("description") or "", None


def _media(entry: feedparser.FeedParserDict, base: str | None) -> list[tuple[str, str]]:
    """Images the item declares outside its HTML, with their roles, in declaration order."""
    found: list[tuple[str, str]] = []

    def add(role: str, url: str | None) -> None:
        url = (url or "").strip()
        if url:
            url = urljoin(base, url) if base else url
            if all(u != url for _, u in found):
                found.append((role, url))

    for thumb in entry.get("media_thumbnail") or []:
        add("thumbnail", thumb.get("url"))
    for content in entry.get("media_content") or []:
        kind = str(content.get("medium") or content.get("type") or "")
        if kind == "image" or kind.startswith("image/"):
            add("media", content.get("url"))
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            add("enclosure", link.get("href"))
    return found


def entry_item(entry: feedparser.FeedParserDict, feed_base: str | None) -> Item:
    """An RSS/Atom entry as an `Item` (links resolved against xml:base, else the feed URL)."""
    body, base = _body(entry)
    link = (entry.get("link") or "").strip()
    link_base = (entry.get("title_detail") or {}).get("base") or base or feed_base
    if link and link_base:
        link = urljoin(link_base, link)
    return Item(
        title=(entry.get("title") or "").strip(), link=link, guid=(entry.get("id") or "").strip(), body=body,
        published=_published(entry), author=(entry.get("author") or "").strip() or None,
        tags=[t["term"].strip() for t in entry.get("tags") or [] if (t.get("term") or "").strip()],
        media=_media(entry, base or feed_base), base=base or feed_base)


def parse_feed(data: bytes, *, source: str, categories: list[str], content_type: str | None = None,
               source_type: str = "feed", feed_url: str = "", base_url: str | None = None) -> FeedParse:
    """All items of a feed document; a bad item is a Reject, an unusable document raises RejectError.

    `feed_url` is the configured URL (stable ids of items without guid or link), `base_url` where the
    document was fetched from (relative links without an xml:base); it defaults to `feed_url`.
    """
    base_url = base_url or feed_url or None
    if is_json_feed(data, content_type):
        return parse_json_feed(data, source=source, categories=categories, source_type=source_type,
                               feed_url=feed_url, base_url=base_url)
    parsed, warning = parse_document(data, content_type, base_url)
    feed_base = (parsed.feed.get("title_detail") or {}).get("base") or base_url
    result = FeedParse(title=parsed.feed.get("title", ""), version=parsed.get("version") or "", warning=warning)
    items = [((e.get("id") or e.get("link") or f"item #{n}"), entry_item(e, feed_base))
             for n, e in enumerate(parsed.entries, start=1)]
    return posts_from_items(items, result, source=source, source_type=source_type, categories=categories,
                            feed_url=feed_url)
