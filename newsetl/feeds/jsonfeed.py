"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) as a third feed format.

RSSHub, the generator's upstream, publishes JSON Feed beside RSS and Atom. Items become the same `Item`s as
RSS/Atom entries and take the same repairs, clean and load path (`newsetl.feeds.item_posts`).
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from urllib.parse import urljoin

from newsetl.errors import RejectError
from newsetl.feeds.item_posts import FeedParse, Item, posts_from_items

VERSIONS = {"https://jsonfeed.org/version/1": "json1", "https://jsonfeed.org/version/1.1": "json11"}
MEDIA_TYPES = ("application/feed+json", "application/json")


def is_json_feed(data: bytes, content_type: str | None) -> bool:
    """A JSON body: declared as (feed+)json, or starting with "{"."""
    media = (content_type or "").split(";")[0].strip().lower()
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return media in MEDIA_TYPES or start == b"{"


def _date(value: object) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime (naive values taken as UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _author(item: dict, feed: dict) -> str | None:
    """1.1 `authors` (list) or 1.0 `author` (object), the item's before the feed's."""
    for holder in (item, feed):
        authors = holder.get("authors")
        if isinstance(authors, list):
            names = [_text(a.get("name")) for a in authors if isinstance(a, dict) and _text(a.get("name"))]
            if names:
                return ", ".join(names)
        author = holder.get("author")
        if isinstance(author, dict) and _text(author.get("name")):
            return _text(author.get("name"))
    return None


def _body(item: dict) -> str:
    """content_html, else content_text escaped into paragraphs, else the summary."""
    if _text(item.get("content_html")):
        return item["content_html"]
    text = _text(item.get("content_text")) or _text(item.get("summary"))
    return "".join(f"<p>{html.escape(block.strip())}</p>" for block in text.split("\n\n") if block.strip())


def json_item(item: dict, feed: dict, base: str | None) -> Item:
    """One JSON Feed item as an `Item`; relative URLs resolved against the feed's home page or URL."""
    def absolute(url: object) -> str:
        url = _text(url)
        return urljoin(base, url) if url and base else url

    media: list[tuple[str, str]] = []
    for role, key in (("thumbnail", "image"), ("media", "banner_image")):
        if absolute(item.get(key)):
            media.append((role, absolute(item.get(key))))
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith("image/"):
            if absolute(attachment.get("url")) and all(u != absolute(attachment.get("url")) for _, u in media):
                media.append(("enclosure", absolute(attachment.get("url"))))
    guid = item.get("id")
    return Item(
        title=_text(item.get("title")), link=absolute(item.get("url")) or absolute(item.get("external_url")),
        guid=str(guid).strip() if isinstance(guid, (str, int, float)) else "", body=_body(item),
        published=_date(item.get("date_published")) or _date(item.get("date_modified")),
        author=_author(item, feed), tags=[t.strip() for t in item.get("tags") or [] if isinstance(t, str) and t.strip()],
        media=media, base=base)


def parse_json_feed(data: bytes, *, source: str, categories: list[str], source_type: str = "feed",
                    feed_url: str = "", base_url: str | None = None) -> FeedParse:
    """All items of a JSON Feed; RejectError naming the problem when it is not one."""
    try:
        feed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise RejectError("parse", f"not a JSON Feed: the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise RejectError("parse", f"not a JSON Feed: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(feed, dict) or feed.get("version") not in VERSIONS:
        version = feed.get("version") if isinstance(feed, dict) else None
        raise RejectError("parse", "not a JSON Feed: " + (f"unknown version {version!r}" if version
                                                          else "no jsonfeed.org version"))
    items = feed.get("items")
    if not isinstance(items, list):
        raise RejectError("parse", "not a JSON Feed: 'items' is not a list")
    base = base_url or feed_url or _text(feed.get("feed_url")) or _text(feed.get("home_page_url")) or None
    result = FeedParse(title=_text(feed.get("title")), version=VERSIONS[feed["version"]])
    entries: list[tuple[str, Item | RejectError]] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            entries.append((f"item #{number}", RejectError("parse", "item is not a JSON object")))
            continue
        parsed = json_item(item, feed, base)
        entries.append((parsed.guid or parsed.link or f"item #{number}", parsed))
    return posts_from_items(entries, result, source=source, source_type=source_type, categories=categories,
                            feed_url=feed_url)
