"""Connections and versioned migrations for the DuckDB warehouse file."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb

from newsetl.errors import NewsetlError, WarehouseBusy

MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """All bundled migrations as (version, name, sql), in order."""
    found = []
    for entry in resources.files("newsetl.warehouse").joinpath("migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


def views() -> list[tuple[str, str]]:
    """All bundled views as (name, sql), sorted by name: one `CREATE OR REPLACE VIEW` per `views/<name>.sql`."""
    folder = resources.files("newsetl.warehouse").joinpath("views")
    return sorted((entry.name[:-4], entry.read_text(encoding="utf-8"))
                  for entry in folder.iterdir() if entry.name.endswith(".sql"))


def macros() -> list[tuple[str, str]]:
    """All bundled macros as (name, sql), sorted by name: `macros/<name>.sql` (the BM25 search macro)."""
    folder = resources.files("newsetl.warehouse").joinpath("macros")
    return sorted((entry.name[:-4], entry.read_text(encoding="utf-8"))
                  for entry in folder.iterdir() if entry.name.endswith(".sql"))


def apply_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view and macro in one transaction; idempotent, so it runs after the migrations on every
    connect."""
    with transaction(con):
        for _, sql in views() + macros():
            con.execute(sql)


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        return _attach_writer(path)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseBusy(
                f"warehouse {path} is busy: another newsetl process is writing it; try again when it finishes"
            ) from None
        raise NewsetlError(f"cannot open warehouse {path}: {text.splitlines()[0]}") from None
    except duckdb.BinderException as exc:
        if "already attached" in str(exc):  # a writer of this process has it (DuckDB's in-process check)
            raise WarehouseBusy(
                f"warehouse {path} is busy: this process already has it open for writing; try again when it closes"
            ) from None
        raise NewsetlError(f"cannot open warehouse {path}: {str(exc).splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise NewsetlError(f"cannot open warehouse {path}: {str(exc).splitlines()[0]}") from None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: commit when it ends, roll back (and re-raise) when it fails."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def staged(con: duckdb.DuckDBPyConnection, name: str, table: object) -> Iterator[str]:
    """`table` (Arrow) visible to SQL as `name` for the block; unregistered when it ends, even on error."""
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the warehouse's version, each in its own transaction, then the views."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    # By the versions recorded, not the highest one: migrations numbered in parallel (006, 007 after 008)
    # still apply to a warehouse that already has the later one.
    have = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in have:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, datetime.now(timezone.utc)]
            )
        applied.append(version)
    apply_views(con)
    return applied


WAL_AUTOCHECKPOINT = "128MB"  # see connect_writer

# Rows per row group of the tables the writer appends to (DuckDB's default: 122,880). A checkpoint rewrites
# every column of each row group that got new rows, so with the default each WAL checkpoint of a run's load
# rewrote all of `articles` (and search_documents, article_minhash, story_clusters) written so far. 100k-post
# first runs, alternating (09:27-09:53 UTC 2026-12-01, load 2.0-3.6): flow-process CPU 89.4/81.0/73.2 s with the
# default, 64.4/70.4 s with 16,384, 65.3/63.8/65.4 s with 32,768; at 20k posts 16,384 added ~1 s to the final
# checkpoint (two row groups of articles), 32,768 made no difference.
ROW_GROUP_SIZE = 32768
# Catalog names DuckDB reserves (and the in-memory one's): a file so named is attached as `<stem>_db`, as a plain
# `duckdb.connect` names main.duckdb `main_db`.
_RESERVED_CATALOGS = {"memory", "system", "temp", "main"}


def sql_string(text: str) -> str:
    """`text` as an SQL string literal (for statements that take no parameters: ATTACH, SET, COPY ... TO)."""
    return "'" + text.replace("'", "''") + "'"


def _sql_name(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _attach_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse file, read-write, with `ROW_GROUP_SIZE`: an in-memory database with the file attached
    and made the default (`USE`), named like a plain `duckdb.connect` would name it (the file's stem).

    The row-group size is an option of each ATTACH, not stored in the file: readers, `duckdb.connect` and
    older newsetl open the file as before. Spills go next to the file, as with a plain connect
    (`<file>.tmp`); CHECKPOINT and close fold the file's write-ahead log. Cursors: `cursor(con)`.
    """
    alias = path.stem if path.stem.lower() not in _RESERVED_CATALOGS else path.stem + "_db"
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {sql_string(str(path))} AS {_sql_name(alias)} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        con.execute(f"USE {_sql_name(alias)}")
        con.execute(f"SET temp_directory = {sql_string(str(path) + '.tmp')}")
    except BaseException:
        con.close()
        raise
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to `con`'s database (its own transactions and snapshot), in the same catalog.

    A plain `con.cursor()` of the writer starts in the in-memory catalog the warehouse is attached to.
    """
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    second = con.cursor()
    second.execute(f"USE {_sql_name(catalog)}")
    return second


def connect_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection with the schema brought up to date; row groups of `ROW_GROUP_SIZE` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only=False)
    # Each batch commits to the write-ahead log (durable); the log is folded into the main file whenever it
    # passes WAL_AUTOCHECKPOINT (about every 7,000 posts; DuckDB's default, 16 MB, would fold it every batch)
    # and at the end of a run. Until then DuckDB holds the appended rows in memory (~18 MB per 1,000 posts):
    # with 1 GB the flow's memory grew with the corpus (16k posts: 934-952 MB peak RSS; 128 MB: 762-888 MB).
    con.execute(f"SET wal_autocheckpoint = '{WAL_AUTOCHECKPOINT}'")
    migrate(con)
    return con


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect_writer(path)
    try:
        yield con
    finally:
        con.close()


MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)$", re.IGNORECASE)


def limit_memory(con: duckdb.DuckDBPyConnection, limit: str | None) -> None:
    """Cap DuckDB's buffer pool (cached blocks and intermediates; beyond it DuckDB spills to temp files).

    Without a cap DuckDB may keep up to 80 % of the machine's RAM cached; a run's writer does not need that.
    """
    if limit is None:
        return
    if not MEMORY_LIMIT.match(limit.strip()):
        raise NewsetlError(f"bad warehouse memory limit {limit!r} (e.g. 512MB, 2GB)")
    con.execute(f"SET memory_limit = '{limit.strip()}'")


def release_memory(con: duckdb.DuckDBPyConnection, limit: str | None) -> None:
    """Make DuckDB give the memory it has freed back to the system; `limit` as given to `limit_memory`.

    DuckDB's allocator keeps what its queries and checkpoints freed (after loading 20k posts the writer held
    ~400 MB while duckdb_memory() counted 55 MB) until a thread idles or the memory limit is set. Setting the
    limit again evicts down to it (nothing, when under it) and flushes the allocator: 250-340 MB given back in
    30-60 ms. RESET does not flush, so with DuckDB's own default limit (None) this does nothing.
    """
    if limit is not None:
        limit_memory(con, limit)


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the write-ahead log into the warehouse file (done once, at the end of a run)."""
    con.execute("CHECKPOINT")


def connect_reader(path: Path, *, sandbox: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection; a clear error when the file is missing or being written.

    `sandbox=True` also locks it down for SQL a user typed (`read_only_sandbox`): `newsetl query`.
    """
    if not path.exists():
        raise NewsetlError(f"no warehouse at {path}: run `newsetl ingest` first")
    con = _open(path, read_only=True)
    if current_version(con) < latest_version():
        con.close()
        raise NewsetlError(f"warehouse {path} needs an upgrade: run `newsetl ingest` (or `newsetl migrate`) once")
    if sandbox:
        read_only_sandbox(con)
    return con


# DuckDB's own switches, in this order: the lock comes last, so no SET, RESET or PRAGMA can undo the others.
SANDBOX_SETTINGS = (
    ("enable_external_access", "false"),        # no file or network access: COPY TO, EXPORT/IMPORT DATABASE,
                                                # ATTACH, INSTALL, LOAD from a path, read_csv('/etc/...')
    ("autoinstall_known_extensions", "false"),  # nothing is downloaded ...
    ("autoload_known_extensions", "false"),     # ... or loaded behind the query's back
    ("allow_community_extensions", "false"),
    ("lock_configuration", "true"),             # SET / RESET / PRAGMA x=... now fail
)


def read_only_sandbox(con: duckdb.DuckDBPyConnection) -> None:
    """Lock a read-only connection down for untrusted SQL; idempotent.

    The warehouse file is already opened read-only (no INSERT, DELETE, CREATE, DROP on it). This also keeps
    the SQL from writing or reading other files, attaching other databases, installing or loading extensions
    and changing settings. BM25 search needs no extension: `match_bm25` is a macro stored in the warehouse.
    """
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        return
    for name, value in SANDBOX_SETTINGS:
        con.execute(f"SET {name} = {value}")
