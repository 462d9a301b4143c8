"""What the end-of-run post_link check costs (newsetl/posts/post_links.py `DeferredLinks.stale`): a source of
`--posts` stored articles of which `--linking` link to 3 others each (article_links), one post prepared in
the run (the check runs only for sources with links where something was prepared). A real DuckDB warehouse
in a temporary folder; prints the seconds of each of `--repeat` rounds and the best.

    .venv/bin/python bench/post_links_bench.py --posts 20000 --linking 2000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsetl.posts.hexo_site import HexoSite  # noqa: E402
from newsetl.posts.options import PostOptions  # noqa: E402
from newsetl.posts.post_links import DeferredLinks  # noqa: E402
from newsetl.warehouse.article_links import source_links  # noqa: E402
from newsetl.warehouse.db import connect_writer  # noqa: E402
from newsetl.warehouse.link_targets import source_posts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--linking", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        con = connect_writer(Path(folder) / "wh.duckdb")
        con.execute("INSERT INTO articles (article_id, source, source_type, locator, title, url, content_hash, "
                    "first_seen_at, updated_at, run_id) SELECT 'id' || i, 's', 'hexo_dir', "
                    "'2020-01-01-post-' || i || '.md', 'Post ' || i, 'https://x/' || i, 'h', now(), now(), 'r' "
                    "FROM range(?) t(i)", [args.posts])
        con.execute("INSERT INTO article_links SELECT 's', '2020-01-01-post-' || i || '.md', "
                    "'post-' || ((i * 7 + k) % ?), 'Post ' || ((i * 7 + k) % ?), 'https://x/' || ((i * 7 + k) % ?) "
                    "FROM range(?) t(i), range(3) u(k)", [args.posts] * 3 + [args.linking])
        site = HexoSite(root=Path(folder), new_post_name=":year-:month-:day-:title.md")
        options = {"s": PostOptions(ZoneInfo("UTC"), site=site)}
        rounds = []
        for _ in range(args.repeat):
            links = DeferredLinks(options, {"s"})
            links.seen.add(("s", "2020-01-01-post-5.md"))
            started = time.perf_counter()
            stale = links.stale(lambda s: source_links(con, s), lambda s: source_posts(con, s))
            rounds.append(time.perf_counter() - started)
            assert not stale  # every stored link shows what its target has
        con.close()
    print(f"{args.posts} posts, {args.linking} linking posts x 3 links: check "
          + ", ".join(f"{r:.3f}" for r in rounds) + f" s (best {min(rounds):.3f} s)")


if __name__ == "__main__":
    main()
