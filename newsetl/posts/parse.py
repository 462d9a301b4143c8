"""Parse step: Hexo post text -> `ParsedPost` (front matter fields + raw HTML body)."""

from __future__ import annotations

import html
import re
import time as clock
from datetime import date, datetime, time, timezone
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

import yaml

from newsetl.errors import RejectError
from newsetl.models import Batch, InputRef, ParsedPost, Reject
from newsetl.posts import hexo_post
from newsetl.posts.limits import DEFAULT_LIMITS, PostLimits, check_time, load_front_matter, reason
from newsetl.posts.options import PostOptions, as_options

# The generator escaped every brace in the whole file; undo it before anything else reads the text.
_BRACE_ENTITIES = re.compile(r"&#(123|125|x7[bBdD]);")
_BRACES = {"123": "{", "125": "}", "x7b": "{", "x7B": "{", "x7d": "}", "x7D": "}"}
# Front matter: an opening `---` line (after optional blank lines / BOM), YAML, a closing `---` line.
_FRONT_MATTER = re.compile(r"\A\ufeff?\s*^---[ \t]*\r?\n(.*?)^---[ \t]*\r?$\n?", re.S | re.M)
# Hexo also accepts front matter without the opening line: `title: x` ... `---` (hexo-front-matter).
_BARE_FRONT_MATTER = re.compile(r"\A\ufeff?(.*?)^-{3,}[ \t]*\r?$\n?", re.S | re.M)


def unescape_braces(text: str) -> str:
    return _BRACE_ENTITIES.sub(lambda m: _BRACES[m.group(1)], text)


# JavaScript's text for a date that is not one (`String(new Date(NaN))`): RSS-to-blog generators write it when
# the item had no date. Hexo reads an invalid date as none and dates the post from its file; so does newsetl.
NO_DATE = "invalid date"


def parse_date(value: object, zone: ZoneInfo) -> datetime | None:
    """A front-matter date as an aware UTC datetime (None when there is none); naive values are read in `zone`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() == NO_DATE:
            return None
        try:
            moment = parsedate_to_datetime(text)  # RFC 2822: "Mon, 18 Jul 2022 06:30:35 GMT"
        except (TypeError, ValueError, IndexError):
            try:
                moment = datetime.fromisoformat(text)  # "2021-04-11 00:30:33", "2021-04-11T00:30:33+08:00"
            except ValueError:
                moment = hexo_post.hexo_date_text(text)  # "2026/05/08 12:00": what moment.js reads
                if moment is None:
                    raise RejectError("parse", f"unrecognised date {text!r}") from None
    else:
        raise RejectError("parse", f"date has an unexpected type ({type(value).__name__})")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise RejectError("parse", f"date out of range in UTC: {value!s}") from None


def _text_field(meta: dict, key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise RejectError("parse", f"front matter {key!r} should be text, got a {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _categories(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        flat: list[str] = []
        for item in value:  # Hexo allows nested lists for hierarchies
            flat.extend(_categories(item))
        return flat
    return [str(value)]


def parse_post_text(text: str, ref: InputRef, zone: ZoneInfo | PostOptions,
                    limits: PostLimits = DEFAULT_LIMITS) -> ParsedPost:
    """Split a Hexo post into front matter and body; raise RejectError when it is not a post.

    `zone` is the source's PostOptions (newsetl/posts/options.py), or just its time zone.
    """
    options = as_options(zone)
    zone = options.zone
    text = unescape_braces(text)
    match = _FRONT_MATTER.match(text) or _bare_front_matter(text, limits)
    if not match:
        raise RejectError("parse", "no front matter (expected a '---' block at the top)")
    try:
        meta = load_front_matter(match.group(1), limits)  # bounded: aliases, depth, size
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise RejectError("parse", f"invalid YAML front matter{where}: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise RejectError("parse", "front matter is not a mapping of keys to values")
    body = text[match.end():].strip()
    if not body:
        raise RejectError("parse", "empty body")
    # Character references decoded: generators copy a feed's escaped title into front matter (巴哈姆特's
    # `_ETC_&nbsp;SQUARE ENIX ...`, and its file name too), which a reader sees decoded on the page.
    title = html.unescape(_text_field(meta, "title") or PurePosixPath(ref.locator).stem)
    post = ParsedPost(
        source=ref.source,
        source_type=ref.source_type,
        locator=ref.locator,
        file_hash=ref.file_hash,
        title=title,
        body_html=body,
        url=_text_field(meta, "link") or _text_field(meta, "url") or ref.url,
        author=_text_field(meta, "author"),
        published_at=parse_date(meta.get("date"), zone),
        categories=_categories(meta.get("categories")),
        headimg=_text_field(meta, "headimg"),
        thumbnail=_text_field(meta, "thumbnail"),
        summary=_text_field(meta, "description") or _text_field(meta, "excerpt"),
    )
    return hexo_post.complete(post, meta, ref, options, parse_date)


def _bare_front_matter(text: str, limits: PostLimits = DEFAULT_LIMITS) -> re.Match | None:
    """Hexo's front matter without its opening `---`, when what precedes the `---` line is a YAML mapping."""
    match = _BARE_FRONT_MATTER.match(text)
    if not match:
        return None
    try:
        meta = load_front_matter(match.group(1), limits)
    except (yaml.YAMLError, RejectError):
        return None
    return match if isinstance(meta, dict) and meta else None


def parse_posts(batch: Batch, zones: dict[str, ZoneInfo | PostOptions],
                limits: PostLimits = DEFAULT_LIMITS) -> Batch:
    """Parse a Batch of RawPosts; each post that fails becomes a Reject instead of stopping the batch.

    Drafts and `published: false` posts are counted in `Batch.skipped`, neither parsed further nor rejected.
    """
    posts: list[ParsedPost] = []
    rejects = list(batch.rejects)
    skipped = batch.skipped
    for raw in batch.items:
        started = clock.perf_counter()
        try:
            post = parse_post_text(raw.text, raw.ref, zones[raw.ref.source], limits)
            check_time(started, "parse", limits)
            posts.append(post)
        except hexo_post.SkippedPost:
            skipped += 1
        except RejectError as exc:
            rejects.append(Reject(raw.ref.source, raw.ref.locator, exc.stage, exc.reason,
                                  raw.ref.file_hash, raw.ref.size))
        except Exception as exc:  # noqa: BLE001 - one post's failure never stops the batch
            rejects.append(Reject(raw.ref.source, raw.ref.locator, "parse", reason(exc),
                                  raw.ref.file_hash, raw.ref.size))
    return Batch(posts, rejects, skipped=skipped)
