"""Discover step: list the post files of Hexo folders, then read and hash them lazily, batch by batch.

Listing is cheap (names only). `ChangedFiles` reads each file once, hashes its bytes and keeps new or changed
files with their bytes attached (`InputRef.data`), so the worker never reads a file a second time; unchanged
files are counted and dropped. It is a generator consumed batch by batch, so only the batches in flight hold
file bytes in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Iterator

from newsetl.config import HexoDirSource
from newsetl.models import InputRef, Reject
from newsetl.posts.links import screen


@dataclass(slots=True)
class PostFile:
    """One listed post file: its source, its locator (path relative to the source root) and where it is."""

    source: str
    locator: str
    path: Path


@dataclass(slots=True)
class Listing:
    """The post files of the sources, and the sources that could not be walked at all."""

    files: list[PostFile] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def iter_post_files(root: Path, globs: list[str], exclude: list[str]) -> list[Path]:
    """Paths under `root` matching any glob (any depth, any file name), minus excluded ones, sorted.

    Symlinks and special files are listed too: `newsetl.posts.links.screen` decides what may be read.
    """
    found: set[Path] = set()
    for pattern in globs:
        found.update(root.glob(pattern))
    files = sorted(found)
    if exclude:
        files = [p for p in files if not any(fnmatch(p.relative_to(root).as_posix(), x) for x in exclude)]
    return files


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_sources(sources: list[tuple[HexoDirSource, Path]]) -> Listing:
    """The post files of each (source, root folder); a missing folder is a `discover` reject, and a path that
    may not be read (a symlink leading outside the root, a loop, a broken link, a FIFO) a `read` reject."""
    out = Listing()
    for source, root in sources:
        if not root.is_dir():
            out.rejects.append(Reject(source.name, str(root), "discover", f"folder not found: {root}"))
            continue
        screened = screen(iter_post_files(root, source.globs, source.exclude), root, source.follow_symlinks)
        for path, real in screened.files:
            out.files.append(PostFile(source.name, path.relative_to(root).as_posix(), real))
        for path, why in screened.refused:
            out.rejects.append(Reject(source.name, path.relative_to(root).as_posix(), "read", why))
    return out


class ChangedFiles:
    """Iterate the new or changed files of a listing, each read once and hashed, with its bytes attached.

    `known` maps (source, locator) to the last ingested hash. After the iteration, `unchanged` counts the
    files skipped and `rejects` holds the files that could not be read.
    """

    def __init__(self, files: list[PostFile], known: dict[tuple[str, str], str],
                 salts: dict[str, str] | None = None, max_bytes: int | None = None) -> None:
        self.files = files
        self.max_bytes = max_bytes  # bigger files are rejected by their stat size, never read
        self.known = known
        self.salts = salts or {}  # source -> its Hexo site settings' fingerprint, mixed into each file's hash
        self.changed = 0
        self.unchanged = 0
        self.rejects: list[Reject] = []

    def __iter__(self) -> Iterator[InputRef]:
        for f in self.files:
            try:
                size = f.path.stat().st_size
                if self.max_bytes is not None and size > self.max_bytes:
                    self.rejects.append(Reject(f.source, f.locator, "read", f"too large: {size:,} bytes "
                                                                            f"(limit {self.max_bytes:,})"))
                    continue
                data = f.path.read_bytes()
            except OSError as exc:
                self.rejects.append(Reject(f.source, f.locator, "read", f"cannot read file: {exc.strerror}"))
                continue
            salt = self.salts.get(f.source)
            digest = hash_bytes(data + b"\0" + salt.encode()) if salt else hash_bytes(data)
            if self.known.get((f.source, f.locator)) == digest:
                self.unchanged += 1
                continue
            self.changed += 1
            yield InputRef(f.source, "hexo_dir", f.locator, str(f.path), digest, len(data), data=data)

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
