"""Text recall and leaks of newsetl's cleaning beside trafilatura, on real posts of the generator's sources.

    .venv/bin/python bench/text_recall.py [posts ...]      (default: tests/fixtures/generator/*/*.md)

The yardstick is an independent reading, not newsetl's cleaner: lxml's text of the original body (scripts,
styles, comments and hidden elements dropped), cut into segments at block elements and <br>. Each segment is
  - boilerplate when it matches BOILERPLATE below (promo lines, copyright notices, share widgets): it must
    not appear in the article text (a *leak* if it does);
  - metadata when it matches METADATA (attribution, bylines, editor lines, photo credits): it must not stay
    in the text either, but is recalled when its value reaches a column (origin, author, byline, editor,
    photo credit, an image's credit);
  - content otherwise: recalled when it appears in the output (body text or an image caption).
Recall = recalled content characters / content characters. trafilatura (bench-only dependency) reads the
same body HTML (`trafilatura.extract`, default settings) and is scored the same way; it has no columns.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 blockquote li ul ol figure figcaption pre table tr td th section "
                   "article header footer aside hr center br dd dt".split())
BOILERPLATE = re.compile("|".join([
    r"扫码", r"二维码", r"尽在新浪财经APP", r"股民福利来了", r"点击查看\s*>>", r"THE END", r"转载请注明",
    r"未经(授权|许可).{0,4}(不得|禁止)转载",
]))
METADATA = re.compile("|".join([
    r"本文来自", r"^(责任)?编辑[：:]", r"作者[：:]", r"头图来自|题图来自", r"^(图片|数据)?来源[：:]",
    r"^[^，。]{0,8}记者\s+[\u4e00-\u9fff]{2,4}$", r"^翻译\s*/", r"^校对\s*/",
]))


def segments(html: str) -> list[str]:
    """Text segments of the body as a browser shows them, split at blocks and line breaks."""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    for bad in root.xpath("//script|//style|//noscript|//iframe|//comment()"):
        bad.drop_tree() if not isinstance(bad, etree._Comment) else bad.getparent().remove(bad)
    for hidden in root.xpath("//*[contains(translate(@style,' ',''),'display:none')]"):
        hidden.drop_tree()
    out: list[str] = []
    parts: list[str] = []

    def flush() -> None:
        text = " ".join("".join(parts).split())
        parts.clear()
        if text:
            out.append(text)

    def walk(element: etree._Element) -> None:
        block = isinstance(element.tag, str) and element.tag in BLOCKS
        if block:
            flush()
        if element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        if element.tail:
            parts.append(element.tail)

    walk(root)
    flush()
    return out


def squash(text: str) -> str:
    return "".join(text.split())


@dataclass
class Score:
    content: int = 0        # content characters in the yardstick
    recalled: int = 0
    leaks: int = 0          # boilerplate or metadata segments left in the text
    empty: bool = False


def score(segs: list[str], text: str, columns: str) -> Score:
    result = Score()
    body, cols = squash(text), squash(columns)
    for seg in segs:
        flat = squash(seg)
        if BOILERPLATE.search(seg):
            result.leaks += flat in body
        elif METADATA.search(seg):
            result.leaks += flat in body and len(flat) > 1
        else:
            result.content += len(flat)
            result.recalled += recalled(flat, body, cols)
    result.empty = result.content > 0 and result.recalled == 0
    return result


def recalled(flat: str, body: str, cols: str) -> int:
    """Characters of a content segment found in the output: all of it, or its runs of 4+ matching characters
    (a segment whose byline or note moved into a column is still recalled for the rest)."""
    if flat in body or flat in cols:
        return len(flat)
    blocks = SequenceMatcher(None, flat, body, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= 4)


def newsetl_text(path: Path):
    from newsetl.models import InputRef
    from newsetl.posts.clean import clean_post
    from newsetl.posts.parse import parse_post_text
    from newsetl.rules import load_rules

    text = path.read_text(encoding="utf-8")
    post = parse_post_text(text, InputRef(path.parent.name, "hexo_dir", path.name, str(path), "-", len(text)),
                           ZoneInfo("Asia/Shanghai"))
    article = clean_post(post, load_rules())
    captions = [i.caption for i in article.images if i.caption]
    columns = [article.title, article.origin, article.author, article.editor,
               getattr(article, "byline", None), getattr(article, "photo_credit", None),  # None before issue 14
               *[getattr(i, "credit", None) for i in article.images]]
    return post.body_html, "\n".join([article.body_text, *captions]), " ".join(c for c in columns if c)


def main(argv: list[str] | None = None) -> int:
    import trafilatura

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("posts", nargs="*", type=Path)
    args = parser.parse_args(argv)
    posts = args.posts or sorted((ROOT / "tests" / "fixtures" / "generator").glob("*/*.md"))
    totals = {"newsetl": Score(), "trafilatura": Score()}
    empties = {"newsetl": 0, "trafilatura": 0}
    print(f"{'post':44} {'chars':>6} {'newsetl':>8} {'leaks':>5} {'trafil.':>8} {'leaks':>5}")
    for path in posts:
        html, ours, columns = newsetl_text(path)
        segs = segments(html)
        theirs = trafilatura.extract(f"<html><body>{html}</body></html>") or ""
        row = {"newsetl": score(segs, ours, columns), "trafilatura": score(segs, theirs, "")}
        for name, s in row.items():
            t = totals[name]
            t.content, t.recalled, t.leaks = t.content + s.content, t.recalled + s.recalled, t.leaks + s.leaks
            empties[name] += s.empty
        n, f = row["newsetl"], row["trafilatura"]
        pct = lambda s: f"{100 * s.recalled / s.content:7.1f}%" if s.content else "      -"  # noqa: E731
        print(f"{path.parent.name + '/' + path.name[:30]:44} {n.content:6d} {pct(n)} {n.leaks:5d} {pct(f)} {f.leaks:5d}")
    print()
    for name, t in totals.items():
        print(f"{name:12} recall {100 * t.recalled / max(t.content, 1):5.1f}% of {t.content} content characters, "
              f"{t.leaks} boilerplate/metadata segments left in the text, nothing extracted from "
              f"{empties[name]} of {len(posts)} posts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
