"""`source_files`: what each input looked like when last ingested (the incremental skip reads it).

Its rows are written by the load step, in the batch's transaction (warehouse/articles.py `load_batch`);
`refresh_stats` updates the stat of files whose bytes were re-hashed and found unchanged.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged, transaction

# (size, mtime_ns, inode, hash_salt) of a file when it was hashed: newsetl.posts.discover.FileStat
Stat = tuple[int, int, int, str]


def known_hashes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """The file hash last ingested for every (source, locator)."""
    return {(s, loc): h for s, loc, h in con.execute(
        "SELECT source, locator, file_hash FROM source_files").fetchall()}


def known_stats(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Stat]:
    """The stat recorded with each file's hash, for the files that have one (see migration 009)."""
    rows = con.execute("SELECT source, locator, size, mtime_ns, inode, coalesce(hash_salt, '') FROM source_files "
                       "WHERE size IS NOT NULL AND mtime_ns IS NOT NULL AND inode IS NOT NULL").fetchall()
    return {(s, loc): (size, mtime, inode, salt) for s, loc, size, mtime, inode, salt in rows}


def refresh_stats(con: duckdb.DuckDBPyConnection, stats: dict[tuple[str, str], Stat | None]) -> None:
    """Record a new stat (None: unknown, hash again next time) for files whose bytes did not change."""
    if not stats:
        return
    keys = list(stats)
    values = [stats[k] or (None, None, None, None) for k in keys]
    table = pa.table({"source": [k[0] for k in keys], "locator": [k[1] for k in keys],
                      "size": pa.array([v[0] for v in values], pa.int64()),
                      "mtime_ns": pa.array([v[1] for v in values], pa.int64()),
                      "inode": pa.array([v[2] for v in values], pa.uint64()),
                      "hash_salt": pa.array([v[3] for v in values], pa.string())})
    with transaction(con), staged(con, "stat_stage", table):
        con.execute("UPDATE source_files SET size = s.size, mtime_ns = s.mtime_ns, inode = s.inode, "
                    "hash_salt = s.hash_salt FROM stat_stage s "
                    "WHERE source_files.source = s.source AND source_files.locator = s.locator")
