"""Turn a batch of fetch results into warehouse rows and load them (`newsetl.warehouse.images.write_results`)."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from newsetl.config import Config
from newsetl.images.fetcher import FetchResult
from newsetl.warehouse.images import write_results


def store_prefix(config: Config) -> str:
    """How `images.path` starts: nothing. Stored paths are relative to the image store (`ab/cd/<sha256>.<ext>`),
    so the same warehouse works with any config, or none, that names the same store (migration 010)."""
    return ""


def fetch_row(result: FetchResult, prev: dict, now: datetime, run_id: str | None) -> dict:
    """The `image_fetches` row after `result`, given the URL's row before this run (`prev`, {} when new)."""
    was_ok = prev.get("status") == "ok"
    attempts = 0 if was_ok else (prev.get("attempts") or 0)
    row = {
        "url": result.url, "host": prev.get("host"), "status": result.status, "http_status": result.http_status,
        "reason": result.reason, "error": result.error, "sha256": None, "attempts": attempts + 1,
        "tries": result.tries, "etag": result.etag, "last_modified": result.last_modified,
        "content_type": result.content_type, "final_url": result.final_url, "redirects": result.redirects,
        "elapsed_ms": result.elapsed_ms, "fetched_at": prev.get("fetched_at"), "checked_at": now,
        "first_seen_at": prev.get("first_seen_at") or now, "run_id": run_id,
    }
    if result.outcome == "fetched":
        row["sha256"] = result.image.sha256 if result.image else None
        row["fetched_at"] = now
    elif result.outcome == "revalidated":
        row["sha256"] = prev.get("sha256")
    elif was_ok and not prev.get("missing_file"):
        # A stored image stays good when its revalidation fails; the next run asks again.
        row.update(
            status="ok", sha256=prev.get("sha256"), attempts=1, checked_at=prev.get("checked_at"),
            etag=prev.get("etag"), last_modified=prev.get("last_modified"),
            error=f"revalidation failed: {result.error}",
        )
    return row


def stored_rows(results: list[FetchResult], *, prefix: str, now: datetime) -> tuple[list[dict], list[dict]]:
    """The `images` and `image_thumbnails` rows of the images in `results`, one per sha256 (and thumbnail)."""
    images: dict[str, dict] = {}
    thumbs: dict[tuple[str, str], dict] = {}
    for result in results:
        image = result.image
        if image is None or image.sha256 in images:
            continue
        images[image.sha256] = {
            "sha256": image.sha256, "format": image.format, "mime_type": image.mime_type, "width": image.width,
            "height": image.height, "mode": image.mode, "frames": image.frames, "bytes": image.bytes,
            "path": f"{prefix}/{image.path}" if prefix else image.path, "first_seen_at": now,
        }
        for t in image.thumbnails:
            thumbs[(image.sha256, t.name)] = {
                "sha256": image.sha256, "name": t.name, "width": t.width, "height": t.height, "bytes": t.bytes,
                "path": f"{prefix}/{t.path}" if prefix else t.path,
            }
    return list(images.values()), list(thumbs.values())


def load_results(
    con: duckdb.DuckDBPyConnection,
    results: list[FetchResult],
    previous: dict[str, dict],
    *,
    prefix: str,
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Write a batch of results in one transaction: image_fetches, images, image_thumbnails.

    `article_images.sha256` is linked once at the end of the step (`link_article_images`).
    """
    if not results:
        return
    now = now or datetime.now(timezone.utc)
    fetch_rows = [fetch_row(r, previous.get(r.url, {}), now, run_id) for r in results]
    image_rows, thumb_rows = stored_rows(results, prefix=prefix, now=now)
    write_results(con, fetch_rows, image_rows, thumb_rows)
