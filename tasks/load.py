"""The load step as a Prefect task: one cleaned batch into DuckDB in one transaction (warehouse/articles.py)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.warehouse.articles import load_batch

load_task = task(load_batch, name="load", cache_policy=NO_CACHE, timeout_seconds=900)
