"""Seeded hostile mutations of the real posts in tests/fixtures/posts (shared by the fuzz test and
bench/hostile_bench.py).

Every mutant is a (name, bytes) pair derived from a real post: byte flips, truncation, hostile YAML
(aliases, recursion, duplicate keys, wrong types, dates out of range), encodings (UTF-16 and UTF-8 BOMs, lone
surrogates, NUL, Latin-1), control characters, deep HTML nesting, huge lines. Plain `random.Random(seed)`:
the same seed gives the same corpus on every machine.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Callable, Iterator

POSTS = Path(__file__).resolve().parent / "fixtures" / "posts"
FRONT_MATTER = re.compile(rb"\A(\s*---[ \t]*\r?\n)(.*?)(^---[ \t]*\r?$\n?)", re.S | re.M)

HOSTILE_DATES = [
    "2021-02-30", "0000-01-01", "2021-13-01", "2021-04-31 10:00:00", "2021-01-01 25:00:00",
    "2021-01-01 23:61:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "99999-01-01",
    "-0001-01-01", "2021-01-01T00:00:00+25:00", "Mon, 30 Feb 2022 12:00:26 GMT", "Fri, 31 Dec 9999 23:59:59 -1400",
    "Mon, 01 Jan 0001 00:00:00 +1400", "1e309", "123456789012345678901234567890", "[2021, 1, 1]",
    "{y: 2021}", "!!timestamp 2021-02-30", "!!binary aGVsbG8=", "''", "null", "~", "true", ".nan", "2021",
]
HOSTILE_VALUES = [
    "[a, [b, [c, [d]]]]", "{a: 1}", "123", "-0", "1e400", ".inf", "true", "null", "''", "!!binary AAAA",
    "!!set {a, b}", "!!omap [a: 1]", "[]", "{}", '"\\x00\\x01"', '"\\ud800"', '"\\U0010ffff"', "- x",
    "!!python/object:os.system {}", "&a [*a]", "*undefined", "? [a]\n  : b", "|\n  multi\n  line",
    '"' + "长" * 5000 + '"',
]
TEXT_KEYS = ["title", "author", "link", "headimg", "thumbnail", "description", "categories", "tags", "date",
             "updated", "published", "lang", "permalink", "cover"]


def real_posts(folder: Path = POSTS) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of the real posts, sorted."""
    return [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*.md"))]


def _split(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    match = FRONT_MATTER.match(data)
    if not match:
        return None
    return data[:match.end(1)], match.group(2), data[match.start(3):]


def _with_front_matter(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    parts = _split(data)
    if parts is None:
        return data
    head, yaml_text, rest = parts
    return head + edit(yaml_text) + rest


def _set_key(yaml_text: bytes, key: str, value: str) -> bytes:
    line = f"{key}: {value}\n".encode("utf-8", "surrogatepass")
    pattern = re.compile(rb"^" + re.escape(key.encode()) + rb":.*(?:\n[ \t-].*)*\n?", re.M)
    if pattern.search(yaml_text):
        return pattern.sub(lambda m: line, yaml_text, count=1)
    return yaml_text + line


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data))]


def hostile_date(rng: random.Random, data: bytes) -> bytes:
    return _with_front_matter(data, lambda y: _set_key(y, rng.choice(["date", "updated"]), rng.choice(HOSTILE_DATES)))


def wrong_type(rng: random.Random, data: bytes) -> bytes:
    return _with_front_matter(data, lambda y: _set_key(y, rng.choice(TEXT_KEYS), rng.choice(HOSTILE_VALUES)))


def duplicate_keys(rng: random.Random, data: bytes) -> bytes:
    key = rng.choice(TEXT_KEYS)
    return _with_front_matter(data, lambda y: y + f"{key}: first\n{key}: [second]\n{key}: 3\n".encode())


def alias_bomb(rng: random.Random, data: bytes, levels: int | None = None) -> bytes:
    """'Billion laughs' in categories: each level lists the previous one nine times."""
    levels = levels or rng.randint(4, 12)
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"categories: *a{levels}")
    bomb = ("\n".join(lines) + "\n").encode()
    return _with_front_matter(data, lambda y: re.sub(rb"^categories:.*(?:\n[ \t-].*)*\n?", b"", y, flags=re.M) + bomb)


def recursive_alias(rng: random.Random, data: bytes) -> bytes:
    return _with_front_matter(data, lambda y: _set_key(y, rng.choice(["categories", "title", "tags"]),
                                                       "&loop [a, *loop]"))


def deep_yaml(rng: random.Random, data: bytes) -> bytes:
    depth = rng.choice([50, 500, 5000])
    return _with_front_matter(data, lambda y: _set_key(y, "categories", "[" * depth + "x" + "]" * depth))


def bom_and_encoding(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    choice = rng.randrange(5)
    if choice == 0:
        return b"\xef\xbb\xbf" + data                          # UTF-8 BOM
    if choice == 1:
        return text.encode("utf-16")                            # UTF-16 with its BOM
    if choice == 2:
        return text.encode("utf-16-le")                         # UTF-16 without a BOM: NUL bytes
    if choice == 3:
        return text.encode("gb18030", "replace")                # a legacy Chinese encoding
    return text.encode("latin-1", "replace")


def lone_surrogates(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    junk = rng.choice([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"&#xD800;", b"&#55296;", b"\\ud800", b"&#x110000;",
                       b"&#0;", b"&#1;"])
    return data[:i] + junk + data[i:]


def control_chars(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        out.insert(rng.randrange(len(out)), rng.choice([0, 1, 2, 7, 8, 11, 12, 14, 27, 31, 127]))
    return bytes(out)


def nul_bytes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + b"\x00" * rng.randint(1, 4) + data[i:]


def deep_html(rng: random.Random, data: bytes, depth: int | None = None) -> bytes:
    depth = depth or rng.choice([255, 300, 1000, 3000, 20000])
    tag = rng.choice(["div", "span", "b", "blockquote", "font"]).encode()
    nest = b"<" + tag + b">" * 1
    deep = nest * depth + "深处的文字 deep text".encode() + (b"</" + tag + b">") * depth
    if rng.random() < 0.3:
        deep = nest * depth + "深处的文字 deep text".encode()  # never closed
    return data + b"\n" + deep + "\n<p>之后的段落 after</p>\n".encode()


def huge_line(rng: random.Random, data: bytes) -> bytes:
    size = rng.choice([100_000, 1_000_000, 3_000_000])
    unit = rng.choice(["字", "a", "&amp;", "<b>x</b>", "<br>", "<p>"]).encode()
    return data + b"\n<p>" + unit * (size // len(unit)) + b"</p>\n"


def hostile_html(rng: random.Random, data: bytes) -> bytes:
    junk = rng.choice([
        b"<p><b><i>unclosed", b"</div></div></div>", b"<![CDATA[x]]>", b"<?php echo 1 ?>", b"<!--", b"<!DOCTYPE x>",
        b"<svg><script>alert(1)</script></svg>", b"<img src='javascript:alert(1)'>", b"<a href=\"\x01\">x</a>",
        b"<img src=//[::1>", b"<img src='http://[bad'>", b"<table><td><td><tr><p>", b"<math><mi>x</mi></math>",
        b"<p>" + b"<br>" * 5000 + b"</p>", b"<img src=x>" * 2000, b"<!-- " + b"-" * 10000 + b" -->",
    ])
    parts = _split(data)
    start = len(parts[0]) + len(parts[1]) + 4 if parts else 0
    i = rng.randrange(start, len(data)) if start < len(data) else len(data)
    return data[:i] + junk + data[i:]


def no_front_matter(rng: random.Random, data: bytes) -> bytes:
    return rng.choice([b"", b"---\n", b"---\n---\n", b"---\ntitle: x\n", data.replace(b"---", b"--", 1),
                       b"\n" * 1000 + data, b"---\n: : :\n---\nbody"])


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    flip_bytes, truncate, hostile_date, wrong_type, duplicate_keys, alias_bomb, recursive_alias, deep_yaml,
    bom_and_encoding, lone_surrogates, control_chars, nul_bytes, deep_html, huge_line, hostile_html,
    no_front_matter,
]
# Mutations that make big files: used less often, so a run stays quick.
HEAVY = {huge_line, deep_html}


def mutants(count: int, seed: int = 11, posts: list[tuple[str, bytes]] | None = None,
            heavy_share: float = 0.05) -> Iterator[tuple[str, bytes]]:
    """`count` mutated posts as (relative path, bytes): one to three mutations each, on a real post."""
    rng = random.Random(seed)
    posts = posts or real_posts()
    light = [m for m in MUTATIONS if m not in HEAVY]
    for i in range(count):
        name, data = posts[i % len(posts)]
        applied = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            mutation = rng.choice(sorted(HEAVY, key=lambda m: m.__name__)) if rng.random() < heavy_share \
                else rng.choice(light)
            data = mutation(rng, data) if data else data
            applied.append(mutation.__name__)
        folder, _, file = name.rpartition("/")
        yield f"{folder}/{i:05d}-{'+'.join(applied)}-{file}", data


def write_corpus(out: Path, items: Iterator[tuple[str, bytes]]) -> int:
    """Write (relative path, bytes) items under `out`; the number written."""
    count = 0
    for name, data in items:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        count += 1
    return count
