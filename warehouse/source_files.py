"""`source_files`: what each input looked like when last ingested (the incremental skip reads it).

Its rows are written by the load step, in the batch's transaction (warehouse/articles.py `load_batch`).
"""

from __future__ import annotations

import duckdb


def known_hashes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """The file hash last ingested for every (source, locator)."""
    return {(s, loc): h for s, loc, h in con.execute(
        "SELECT source, locator, file_hash FROM source_files").fetchall()}
