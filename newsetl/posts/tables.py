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
    keys = [ArticleKey(a.article_id, a.content_hash, a.source, a.locator, a.file_hash) for a in articles]
    return Batch(keys, rejects, article_tables(articles), skipped=skipped)
