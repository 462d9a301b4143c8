"""Listed post files: one `PostFile` each when used, held compactly while they wait to be read.

A first run holds its whole listing until each file is read. As one small Python object per file and field
(a `PostFile`, its path strings, its stat), 100k listed posts were 41-106 MB of objects; CPython's allocator
keeps the arenas they filled after they are freed, since objects made meanwhile live in them too, and the flow
process carried that into the analytics step (the 100k run's peak memory). `ListedFiles` keeps, per source, the
locators in one NUL-separated string (no name holds NUL) and their stats in flat arrays: a few large buffers,
given back whole when freed, and ~100 bytes a file. Iterating, indexing or slicing makes the PostFile objects.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Iterator, NamedTuple, overload

from newsetl.posts.links import Screened


class Found(NamedTuple):
    """A listed file's stat when listing took it: the file it leads to (the target of a symlink)."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> "Found":
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(slots=True)
class PostFile:
    """One listed post file: its source, its locator (path relative to the source root) and where it is.

    `where` is the file to read: `real` when given, else `root`/`locator`. `stat` is its size, mtime and inode
    when listing took its stat (`ChangedFiles` then does not stat it again).
    """

    source: str
    locator: str
    real: str | Path | None
    stat: Found | None = None
    root: str | None = None  # the source's folder, one string shared by its files

    @property
    def where(self) -> str | Path:
        return self.real if self.real is not None else os.path.join(self.root, self.locator)

    @property
    def path(self) -> Path:
        return Path(self.where)


@dataclass(slots=True)
class _Block:
    """The files one source listed, in order."""

    source: str
    root: str
    names: str           # their locators ('' for the root itself), NUL-separated
    starts: array        # 'q': where each locator starts in `names`, then len(names) + 1
    stats: array         # 'q': size and mtime_ns of each, flat
    inodes: array        # 'Q'
    reals: dict[int, str]  # position -> the real path to read, for files not read at root/locator

    def __len__(self) -> int:
        return len(self.inodes)

    def file(self, i: int) -> PostFile:
        name = self.names[self.starts[i]:self.starts[i + 1] - 1]
        return PostFile(self.source, name or ".", self.reals.get(i),
                        Found(self.stats[2 * i], self.stats[2 * i + 1], self.inodes[i]), self.root)


class ListedFiles:
    """The listed files of every source, in listing order: a read-only sequence of `PostFile` (see the module
    docstring), which `clear()` empties."""

    def __init__(self) -> None:
        self._blocks: list[_Block] = []
        self._size = 0

    def add(self, source: str, root: str, screened: Screened) -> None:
        """Add the files one source listed under `root`, as screening kept them."""
        rels = screened.rels
        if not rels:
            return
        starts = array("q", accumulate((len(rel) + 1 for rel in rels), initial=0))
        self._blocks.append(_Block(source, root, "\0".join(rels), starts, screened.stats,
                                   screened.inodes, screened.reals))
        self._size += len(rels)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[PostFile]:
        for block in self._blocks:
            for i in range(len(block)):
                yield block.file(i)

    @overload
    def __getitem__(self, index: int) -> PostFile: ...

    @overload
    def __getitem__(self, index: slice) -> list[PostFile]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("listed file index out of range")
        for block in self._blocks:
            if index < len(block):
                return block.file(index)
            index -= len(block)
        raise IndexError("listed file index out of range")  # pragma: no cover

    def clear(self) -> None:
        """Let go of every file (the ingest, once it has read them all)."""
        self._blocks, self._size = [], 0
