"""Prefect task adapter of the analytics refresh (`newsetl.reporting.analytics.refresh_analytics`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.reporting.analytics import refresh_analytics

analytics_task = task(refresh_analytics, name="analytics", cache_policy=NO_CACHE, timeout_seconds=1800)
