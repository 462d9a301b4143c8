"""The Arrow tables of a cleaned batch, built where it was cleaned (a worker) so the loader only inserts.

Imports neither Prefect nor DuckDB: this module runs in the worker processes (tasks/worker.py).
"""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa

from newsetl.models import Article, Batch, Reject
from newsetl.warehouse.schemas import ARTICLE_IMAGE_SCHEMA, CONTENT_SCHEMA, PARAGRAPH_SCHEMA


class ArticleTables:
    """A cleaned batch as Arrow tables: built by the workers, so the single loader only inserts."""

    __slots__ = ("articles", "paragraphs", "images")

    def __init__(self, articles: pa.Table, paragraphs: pa.Table, images: pa.Table) -> None:
        self.articles, self.paragraphs, self.images = articles, paragraphs, images


def article_tables(articles: list[Article]) -> ArticleTables:
    """Columnar Arrow tables for a batch of articles (and their paragraphs and images)."""
    columns: dict[str, list] = {name: [] for name in CONTENT_SCHEMA.names}
    paragraphs: dict[str, list] = {name: [] for name in PARAGRAPH_SCHEMA.names}
    images: dict[str, list] = {name: [] for name in ARTICLE_IMAGE_SCHEMA.names}
    for a in articles:
        for name in CONTENT_SCHEMA.names:
            columns[name].append(getattr(a, name))
        for position, (kind, text) in enumerate(a.paragraphs):
            paragraphs["article_id"].append(a.article_id)
            paragraphs["position"].append(position)
            paragraphs["kind"].append(kind)
            paragraphs["text"].append(text)
            paragraphs["level"].append(a.heading_levels.get(position))
            paragraphs["lang"].append(a.code_langs.get(position))
        for image in a.images:
            images["article_id"].append(a.article_id)
            for name in ("position", "role", "url", "alt", "caption", "roles", "credit"):
                images[name].append(getattr(image, name))
    return ArticleTables(pa.table(columns, schema=CONTENT_SCHEMA), pa.table(paragraphs, schema=PARAGRAPH_SCHEMA),
                         pa.table(images, schema=ARTICLE_IMAGE_SCHEMA))


class ArticleKey(NamedTuple):
    """What the loader needs to know about a cleaned article besides its Arrow rows."""

    article_id: str
    content_hash: str
    source: str
    locator: str
    file_hash: str


def cleaned_batch(articles: list[Article], rejects: list[Reject], skipped: int = 0) -> Batch:
    """A batch ready to load: article keys + Arrow tables (the Article objects can be freed)."""
    articles = list({a.article_id: a for a in articles}.values())  # the same id twice: the last one wins
    try:
        tables = article_tables(articles)
    except Exception:  # noqa: BLE001 - a value Arrow cannot hold: reject that article, keep the others
        articles, unstorable = _storable(articles)
        rejects = rejects + unstorable
        tables = article_tables(articles)
    keys = [ArticleKey(a.article_id, a.content_hash, a.source, a.locator, a.file_hash) for a in articles]
    return Batch(keys, rejects, tables, skipped=skipped)


def _storable(articles: list[Article]) -> tuple[list[Article], list[Reject]]:
    """The articles whose rows Arrow can build, and a `clean` reject for each of the others."""
    from newsetl.posts.limits import reason

    good, bad = [], []
    for a in articles:
        try:
            article_tables([a])
            good.append(a)
        except Exception as exc:  # noqa: BLE001
            bad.append(Reject(a.source, a.locator, "clean", f"cannot be stored: {reason(exc)}", a.file_hash))
    return good, bad
