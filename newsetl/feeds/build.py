"""Build an RSS 2.0, Atom or JSON Feed 1.1 document from Hexo post files (for the demo and test fixtures).

    python -m newsetl.feeds.build --format rss --encoding gbk --link-base https://host/path/ posts/*.md > feed.xml

Each post becomes one item: title, link (link base + the post's file name), guid, pubDate, author, categories
and the post's HTML body as the description, the way RSSHub served them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import yaml
from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"


def read_hexo(path: Path) -> tuple[dict, str]:
    """Front matter mapping and HTML body of one Hexo post file."""
    text = path.read_text(encoding="utf-8").lstrip()
    _, front, body = text.split("---", 2) if text.startswith("---") else ("", "", text)
    meta = yaml.load(front, Loader=yaml.CSafeLoader) or {}
    # Hexo escapes braces for its template engine; a feed carries the original characters.
    return meta, body.replace("&#123;", "{").replace("&#125;", "}").strip()


def _date(value: object) -> datetime:
    """A front-matter date as an aware datetime (naive values are taken as UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return parsedate_to_datetime(str(value))


def build_feed(posts: list[Path], *, fmt: str, title: str, link_base: str, encoding: str = "utf-8") -> bytes:
    """The serialized feed document for `posts`, in `fmt` ("rss" or "atom") and `encoding`."""
    entries = []
    for path in posts:
        meta, body = read_hexo(path)
        entries.append((meta, body, quote(link_base + path.name, safe=":/?=&%")))
    if fmt == "json":
        return json_feed(entries, title=title, link_base=link_base).encode(encoding)
    if fmt == "rss":
        root = etree.Element("rss", version="2.0")
        channel = etree.SubElement(root, "channel")
        for tag, text in (("title", title), ("link", link_base), ("description", title)):
            etree.SubElement(channel, tag).text = text
        for meta, body, link in entries:
            item = etree.SubElement(channel, "item")
            etree.SubElement(item, "title").text = str(meta["title"])
            etree.SubElement(item, "link").text = link
            etree.SubElement(item, "guid", isPermaLink="true").text = link
            etree.SubElement(item, "pubDate").text = format_datetime(_date(meta["date"]).astimezone(timezone.utc), usegmt=True)
            if meta.get("author"):
                etree.SubElement(item, "author").text = str(meta["author"])
            for category in meta.get("categories") or []:
                etree.SubElement(item, "category").text = str(category)
            etree.SubElement(item, "description").text = etree.CDATA(body)
    elif fmt == "atom":
        root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
        etree.SubElement(root, f"{{{ATOM_NS}}}title").text = title
        etree.SubElement(root, f"{{{ATOM_NS}}}id").text = link_base
        etree.SubElement(root, f"{{{ATOM_NS}}}link", href=link_base)
        newest = max((_date(meta["date"]) for meta, _, _ in entries), default=datetime.now(timezone.utc))
        etree.SubElement(root, f"{{{ATOM_NS}}}updated").text = newest.astimezone(timezone.utc).isoformat()
        for meta, body, link in entries:
            entry = etree.SubElement(root, f"{{{ATOM_NS}}}entry")
            etree.SubElement(entry, f"{{{ATOM_NS}}}title").text = str(meta["title"])
            etree.SubElement(entry, f"{{{ATOM_NS}}}id").text = link
            etree.SubElement(entry, f"{{{ATOM_NS}}}link", href=link, rel="alternate")
            stamp = _date(meta["date"]).astimezone(timezone.utc).isoformat()
            etree.SubElement(entry, f"{{{ATOM_NS}}}published").text = stamp
            etree.SubElement(entry, f"{{{ATOM_NS}}}updated").text = stamp
            if meta.get("author"):
                author = etree.SubElement(entry, f"{{{ATOM_NS}}}author")
                etree.SubElement(author, f"{{{ATOM_NS}}}name").text = str(meta["author"])
            for category in meta.get("categories") or []:
                etree.SubElement(entry, f"{{{ATOM_NS}}}category", term=str(category))
            etree.SubElement(entry, f"{{{ATOM_NS}}}content", type="html").text = body
    else:
        raise ValueError(f"unknown feed format {fmt!r}")
    return etree.tostring(root, xml_declaration=True, encoding=encoding.upper(), pretty_print=True)


def json_feed(entries: list[tuple[dict, str, str]], *, title: str, link_base: str) -> str:
    """A JSON Feed 1.1 document: the fields RSSHub's JSON output carries."""
    items = []
    for meta, body, link in entries:
        item = {"id": link, "url": link, "title": str(meta["title"]), "content_html": body,
                "date_published": _date(meta["date"]).astimezone(timezone.utc).isoformat()}
        if meta.get("author"):
            item["authors"] = [{"name": str(meta["author"])}]
        if meta.get("categories"):
            item["tags"] = [str(c) for c in meta["categories"]]
        if meta.get("headimg"):
            item["image"] = str(meta["headimg"])
        items.append(item)
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": link_base,
                       "items": items}, ensure_ascii=False, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("posts", nargs="+", type=Path)
    parser.add_argument("--format", choices=["rss", "atom", "json"], default="rss")
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--title", default="newsetl sample feed")
    parser.add_argument("--link-base", required=True, help="item links are this prefix + the post's file name")
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    data = build_feed(sorted(args.posts), fmt=args.format, title=args.title, link_base=args.link_base,
                      encoding=args.encoding)
    if args.out:
        args.out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
