"""Discover step: list the post files of Hexo folders, then read and hash them lazily, batch by batch.

Listing is cheap (names only). `ChangedFiles` reads each file once, hashes its bytes and keeps new or changed
files with their bytes attached (`InputRef.data`), so the worker never reads a file a second time; unchanged
files are counted and dropped. It is a generator consumed batch by batch, so only the batches in flight hold
file bytes in memory. A file whose stat (size, mtime_ns, inode) is the one recorded with its hash is not even
read: a no-op rerun over 20k posts stats them and reads none (`--rehash` / `rehash: true` reads them all).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from fnmatch import fnmatch, translate as fnmatch_translate
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, NamedTuple

from newsetl.config import HexoDirSource
from newsetl.models import InputRef, Reject
from newsetl.posts.links import screen
from newsetl.posts.listed import Found, ListedFiles, PostFile


RACY_SECONDS = 2.0  # mtimes this close to the scan are not trusted (coarse file-system clocks)


class FileStat(NamedTuple):
    """What a file's stat was when its bytes were hashed, and the source salt mixed into that hash."""

    size: int
    mtime_ns: int
    inode: int
    salt: str


@dataclass(slots=True)
class Listing:
    """The post files of the sources, and the sources that could not be walked at all."""

    files: ListedFiles = field(default_factory=ListedFiles)
    rejects: list[Reject] = field(default_factory=list)


def iter_post_files(root: Path, globs: list[str], exclude: list[str]) -> list[Path]:
    """Paths under `root` matching any glob (any depth, any file name), minus excluded ones, sorted.

    Symlinks and special files are listed too: `newsetl.posts.links.screen` decides what may be read.
    """
    return [root / rel if rel else root for rel in _matching(root, globs, exclude)]


def _matching(root: Path, globs: list[str], exclude: list[str], scanned: dict[str, int] | None = None) -> list[str]:
    """The paths `iter_post_files` lists, relative to `root` as POSIX strings ('' for `root` itself), sorted as
    pathlib sorts paths (component by component). `scanned` collects the mtime_ns of each folder read."""
    found: set[str] = set()
    for pattern in globs:
        found.update(posix_glob(root, pattern, scanned))
    # Component by component, as pathlib sorts: "/" as the lowest character (no name holds NUL) gives that order
    # with one key string per path instead of a list of its parts (100k paths: ~25 MB less, briefly).
    files = sorted(found, key=lambda rel: rel.replace("/", "\0"))
    if exclude:
        files = [rel for rel in files if not any(fnmatch(rel or ".", x) for x in exclude)]
    return files


# ---------------------------------------------------------------------------------------------- listing
# `posix_glob` is Python 3.11's `Path.glob` (pathlib's selectors, line by line) on strings and os.scandir:
# the same matches, symlink rules and error handling, without a Path object per directory entry (listing
# 20k posts took 0.5-1.1 s with pathlib, mostly building and sorting Path objects).
_IGNORED_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def posix_glob(root: Path, pattern: str, scanned: dict[str, int] | None = None) -> Iterator[str]:
    """What `root.glob(pattern)` yields, as paths relative to `root` ('' for `root` itself), on POSIX.

    `scanned`, if given, collects each folder read and its mtime_ns just before it was read (-1: no stat)."""
    parts = PurePosixPath(pattern).parts if pattern else ()
    if os.name != "posix" or not parts or parts[0].startswith("/") or any("**" in p and p != "**" for p in parts):
        for path in root.glob(pattern):  # other platforms, and the patterns pathlib refuses (same errors)
            yield path.relative_to(root).as_posix() if path != root else ""
        return
    if pattern.endswith("/"):
        parts += ("",)
    base = str(root)
    if not _is_dir(base):
        return
    yield from _Selector(base, parts, scanned).select("")


def _ignored(exc: OSError) -> bool:
    return getattr(exc, "errno", None) in _IGNORED_ERRNOS


def _stat(path: str) -> os.stat_result | None:
    """os.stat, or None where pathlib's glob would treat the path as missing (ignored errors, NUL in a name)."""
    try:
        return os.stat(path)
    except OSError as exc:
        if not _ignored(exc):
            raise
        return None
    except ValueError:
        return None


def _is_dir(path: str) -> bool:
    found = _stat(path)
    return found is not None and stat.S_ISDIR(found.st_mode)


def _exists(path: str) -> bool:
    return _stat(path) is not None


def _child(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class _Selector:
    """pathlib's selector chain for one pattern: each `select_*` is the `_select_from` of pathlib's class."""

    def __init__(self, base: str, parts: tuple[str, ...], scanned: dict[str, int] | None = None) -> None:
        self.base = base
        self.parts = parts
        self.scanned = scanned
        self.matchers = [re.compile(fnmatch_translate(p)).fullmatch if _is_wildcard(p) else None for p in parts]

    def path(self, rel: str) -> str:
        return os.path.join(self.base, rel) if rel else self.base

    def scan(self, rel: str) -> list[os.DirEntry]:
        path = self.path(rel)
        if self.scanned is not None and path not in self.scanned:  # the first read's: a change after it shows
            try:
                self.scanned[path] = os.stat(path).st_mtime_ns
            except OSError:
                self.scanned[path] = -1
        with os.scandir(path) as entries_it:
            return list(entries_it)

    def select(self, rel: str, at: int = 0) -> Iterator[str]:
        if at == len(self.parts) or not self.parts[at]:
            yield rel  # _TerminatingSelector
        elif self.parts[at] == "**":
            yield from self.select_recursive(rel, at)
        elif self.matchers[at] is not None:
            yield from self.select_wildcard(rel, at)
        else:
            yield from self.select_precise(rel, at)

    def select_precise(self, rel: str, at: int) -> Iterator[str]:
        try:
            child = _child(rel, self.parts[at])
            dironly = at + 1 < len(self.parts)
            if (_is_dir if dironly else _exists)(self.path(child)):
                yield from self.select(child, at + 1)
        except PermissionError:
            return

    def select_wildcard(self, rel: str, at: int) -> Iterator[str]:
        match, dironly = self.matchers[at], at + 1 < len(self.parts)
        try:
            entries = self.scan(rel)
            for entry in entries:
                if dironly:
                    try:
                        if not entry.is_dir():
                            continue
                    except OSError as exc:
                        if not _ignored(exc):
                            raise
                        continue
                if match(entry.name):
                    yield from self.select(_child(rel, entry.name), at + 1)
        except PermissionError:
            return

    def directories(self, rel: str) -> Iterator[str]:
        yield rel
        try:
            entries = self.scan(rel)
            for entry in entries:
                is_dir = False
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)  # `**` never enters a symlinked folder
                except OSError as exc:
                    if not _ignored(exc):
                        raise
                if is_dir:
                    yield from self.directories(_child(rel, entry.name))
        except PermissionError:
            return

    def select_recursive(self, rel: str, at: int) -> Iterator[str]:
        try:
            yielded: set[str] = set()
            for start in self.directories(rel):
                for found in self.select(start, at + 1):
                    if found not in yielded:
                        yield found
                        yielded.add(found)
        except PermissionError:
            return


def _is_wildcard(part: str) -> bool:
    return "*" in part or "?" in part or "[" in part


# ---------------------------------------------------------------------------------------- listing ahead
# `newsetl ingest` lists the folders it will ingest in a thread while Prefect's API boots (`list_ahead`). The
# flow's discover step takes that listing when no folder it read has changed since: each folder's mtime is
# the one recorded just before it was read, as git's untracked cache checks (a folder's mtime changes when an
# entry is added, removed or renamed in it), and none was modified within RACY_SECONDS of the listing (a
# change in the same clock tick could leave the mtime as it was). Otherwise it lists again. Only patterns
# whose matches depend on folder entries alone are listed ahead: `**` parts, then one name pattern, such as
# the default `**/*.md` (a `*/` part would follow symlinked folders, whose targets no folder mtime covers).
_AheadKey = tuple[str, tuple[str, ...], tuple[str, ...]]
_ahead: dict[_AheadKey, Future] = {}


def list_ahead(roots: list[tuple[Path, list[str], list[str]]]) -> None:
    """Start listing each (root, globs, exclude) in a background thread, for `list_sources` to take later."""
    for root, globs, exclude in roots:
        key = (str(root), tuple(globs), tuple(exclude))
        if key in _ahead or not globs or not all(_listable_ahead(pattern) for pattern in globs):
            continue
        future: Future = Future()
        _ahead[key] = future
        threading.Thread(target=_list_ahead, args=(future, root, globs, exclude), name="list-ahead",
                         daemon=True).start()


def _listable_ahead(pattern: str) -> bool:
    parts = PurePosixPath(pattern).parts
    return (os.name == "posix" and bool(parts) and not pattern.endswith("/") and not parts[0].startswith("/")
            and all(part == "**" for part in parts[:-1]) and parts[-1] != "**" and _is_wildcard(parts[-1])
            and "**" not in parts[-1])


def _list_ahead(future: Future, root: Path, globs: list[str], exclude: list[str]) -> None:
    try:
        started, scanned = time.time_ns(), {}
        future.set_result((_matching(root, globs, exclude, scanned), scanned, started))
    except Exception:  # the flow lists again, and meets the same error where it is reported
        future.set_result(None)


def _listed_ahead(root: Path, globs: list[str], exclude: list[str]) -> list[str] | None:
    """The listing made ahead for these arguments if it still holds (see above), else None."""
    future = _ahead.pop((str(root), tuple(globs), tuple(exclude)), None)
    result = future.result() if future is not None else None
    if result is None:
        return None
    rels, scanned, started = result
    racy_from = started - int(RACY_SECONDS * 1e9)
    for folder, mtime_ns in scanned.items():
        try:
            if not 0 <= mtime_ns < racy_from or os.stat(folder).st_mtime_ns != mtime_ns:
                return None
        except OSError:
            return None
    return rels


def file_digest(data: bytes, salt: str = "") -> str:
    """The hash recorded for a post file: of its bytes, and of its source's Hexo site settings when there are
    some (`PostOptions.fingerprint`), so a site config change makes every post of the site changed."""
    return hashlib.sha256(data + b"\0" + salt.encode() if salt else data).hexdigest()


def list_sources(sources: list[tuple[HexoDirSource, Path]]) -> Listing:
    """The post files of each (source, root folder); a missing folder is a `discover` reject, and a path that
    may not be read (a symlink leading outside the root, a loop, a broken link, a FIFO) a `read` reject."""
    out = Listing()
    for source, root in sources:
        if not root.is_dir():
            out.rejects.append(Reject(source.name, str(root), "discover", f"folder not found: {root}"))
            continue
        rels = _listed_ahead(root, source.globs, source.exclude)
        if rels is None:
            rels = _matching(root, source.globs, source.exclude)
        screened = screen(root, rels, source.follow_symlinks)  # on strings: no Path per listed name
        out.files.add(source.name, os.fspath(root), screened)
        for rel, why in screened.refused:
            out.rejects.append(Reject(source.name, rel or ".", "read", why))
    return out


class ChangedFiles:
    """Iterate the new or changed files of a listing, each read once and hashed, with its bytes attached.

    `known` maps (source, locator) to the last ingested hash. A file whose stat (size, mtime_ns, inode) and
    source salt equal the ones recorded with that hash (`stats`) is counted unchanged without being read,
    as git's index does; every other file is read and hashed. `rehash` hashes every file regardless.
    After the iteration, `unchanged` counts the files skipped (`unread` of them by stat alone), `rejects`
    holds the files that could not be read, and `restat` the new stat of unchanged files that were re-hashed.
    `stat_of` is the stat to record with a file's hash (None when its mtime is too recent to trust).
    `on_read()` is called once, before the first file is read (the ingest starts its worker processes then).
    `consume=True` gives `files` away: a list lets go of each file as it is reached (a `ListedFiles` is emptied
    at the end), and `self.files` keeps only those not yielded (unchanged or rejected: all the ingest looks at
    again), so a first run does not hold its listing through the images and analytics steps.
    """

    def __init__(self, files: list[PostFile] | ListedFiles, known: dict[tuple[str, str], str],
                 salts: dict[str, str] | None = None,
                 stats: dict[tuple[str, str], FileStat] | None = None, rehash: bool = False,
                 max_bytes: int | None = None, on_read: Callable[[], None] | None = None,
                 consume: bool = False) -> None:
        self.files = files
        self.consume = consume
        self.on_read = on_read
        self.max_bytes = max_bytes  # bigger files are rejected by their stat size, never read
        self.known = known
        self.salts = salts or {}  # source -> its Hexo site settings' fingerprint, mixed into each file's hash
        self.stats = stats or {}
        self.rehash = rehash
        self.changed = 0
        self.unchanged = 0
        self.unread = 0
        self.rejects: list[Reject] = []
        self.restat: dict[tuple[str, str], FileStat | None] = {}
        self._seen: dict[tuple[str, str], FileStat | None] = {}
        # A file modified within RACY_SECONDS of now could change again within the same mtime tick unseen:
        # its stat is not recorded, so the next run hashes it again (git's "racily clean" entries).
        self._racy_from = time.time_ns() - int(RACY_SECONDS * 1e9)

    def stat_of(self, source: str, locator: str) -> FileStat | None:
        return self._seen.get((source, locator))

    def take_stat(self, source: str, locator: str) -> FileStat | None:
        """`stat_of`, forgotten once taken: the ingest takes each file's stat when it loads the file, so a first
        run holds the stats of the files in flight, not one per file read (100k posts: ~40-50 MB of small
        objects grown through the load, whose arenas the process kept)."""
        return self._seen.pop((source, locator), None)

    def __iter__(self) -> Iterator[InputRef]:
        files = self.files
        if self.consume:
            self.files = []
        drop = self.consume and isinstance(files, list)
        for position, f in enumerate(files):
            if drop:
                files[position] = None  # type: ignore[call-overload]  # the given list lets go of it
            if self.consume:
                self.files.append(f)  # kept unless yielded
            key = (f.source, f.locator)
            salt = self.salts.get(f.source) or ""
            try:
                st = f.stat or Found.of(os.stat(f.where))  # the stat screening took, a moment ago
                stat = FileStat(st.size, st.mtime_ns, st.inode, salt)
                if not self.rehash and key in self.known and self.stats.get(key) == stat:
                    self.unchanged += 1
                    self.unread += 1
                    continue
                if self.max_bytes is not None and st.size > self.max_bytes:
                    self.rejects.append(Reject(f.source, f.locator, "read", f"too large: {st.size:,} bytes "
                                                                            f"(limit {self.max_bytes:,})"))
                    continue
                if self.on_read is not None:
                    self.on_read, on_read = None, self.on_read
                    on_read()
                where = f.where  # a listed plain file's path is joined only when it is read
                with open(where, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                self.rejects.append(Reject(f.source, f.locator, "read", f"cannot read file: {exc.strerror}"))
                continue
            trusted = stat if stat.mtime_ns < self._racy_from and stat.size == len(data) else None
            digest = file_digest(data, salt)
            if self.known.get(key) == digest:
                self.unchanged += 1
                if self.stats.get(key) != trusted:
                    self.restat[key] = trusted
                continue
            self._seen[key] = trusted
            self.changed += 1
            if self.consume:
                self.files.pop()
            yield InputRef(f.source, "hexo_dir", f.locator, os.fspath(where), digest, len(data), data=data)
        if self.consume:
            files.clear()

    @property
    def discovered(self) -> int:
        """Every file iterated: changed, unchanged or rejected."""
        return self.changed + self.unchanged + len(self.rejects)


@dataclass(slots=True)
class Discovery:
    """Everything discovery found at once (for benchmarks and tools; the flow iterates `ChangedFiles`)."""

    todo: list[InputRef] = field(default_factory=list)
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def discovered(self) -> int:
        return len(self.todo) + self.unchanged


def discover_sources(sources: list[tuple[HexoDirSource, Path]],
                     known: dict[tuple[str, str], str]) -> Discovery:
    """List, read and hash every file of `sources` eagerly."""
    listing = list_sources(sources)
    changed = ChangedFiles(listing.files, known)
    todo = list(changed)
    return Discovery(todo, changed.unchanged, listing.rejects + changed.rejects)
