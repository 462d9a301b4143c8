"""Source roots are boundaries: which listed paths may be read, and why the others may not.

A post folder is untrusted input too: a symlink in it can point anywhere (`/etc/passwd`, another user's
files) or at itself. Each path the globs list is screened with one `lstat` (plus one `realpath` per folder,
cached): plain files inside the root pass; a symlink (or a file reached through a symlinked folder) passes
only if it resolves inside the root, or anywhere with the source's `follow_symlinks: true`; loops, broken
links and special files (FIFOs, devices, sockets) are refused with a reason. Folders are skipped silently.
Python's `**` never descends into symlinked folders, so listing itself cannot loop.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import NamedTuple


class Found(NamedTuple):
    """What the listing keeps of a file's stat: an `os.stat_result` is ~770 bytes of Python objects (19 fields),
    this ~170, and a 100k-post listing is held until its files are read."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> "Found":
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(slots=True)
class Screened:
    """Listed paths split into files to read (listed path, real path to read, its stat) and refusals (path,
    reason).

    Paths are the listed ones relative to the root, as POSIX strings ('' for the root itself); the real path
    to read is an absolute string, None when it is the listed path itself (root/path: no string per plain
    file, 100k of them cost 18 MB), and its stat (size, mtime, inode) the one screening took (of the file it
    leads to).
    """

    files: list[tuple[str, str | None, Found]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _followed(path: str) -> tuple[str | None, str | None]:
    """(real path, None), or (None, why it cannot be followed)."""
    try:
        return os.path.realpath(path, strict=True), None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symlink loop (a link that leads back to itself)"
        if exc.errno == errno.ENOENT:
            return None, "broken symlink: its target does not exist"
        return None, f"cannot follow symlink: {exc.strerror or exc}"


def screen(root: str | os.PathLike, rels: list[str], follow_symlinks: bool = False) -> Screened:
    """Screen the paths listed under `root`, given relative to it (see the module docstring).

    Strings only, no Path objects: a listed path is `root`/`rel` as written (`..` parts are not collapsed),
    a real path is `os.path.realpath`'s, and "inside" means equal to the real root or under it.
    """
    out = Screened()
    root = os.fspath(root)
    root_real = os.path.realpath(root)
    under = root_real if root_real.endswith("/") else root_real + "/"
    folders: dict[str, bool] = {}  # listed folder (relative) -> reached without a symlink
    join, lstat, realpath = os.path.join, os.lstat, os.path.realpath
    for rel in rels:
        path = join(root, rel) if rel else root
        try:
            found = lstat(path)
        except OSError:
            continue  # gone since it was listed
        mode = found.st_mode
        if stat.S_ISDIR(mode):
            continue
        parent = rel.rpartition("/")[0]
        plain = folders.get(parent)
        if plain is None:
            plain = folders[parent] = (realpath(join(root, parent)) == join(root_real, parent) if parent
                                       else realpath(root) == root_real)
        if plain and not stat.S_ISLNK(mode):
            if stat.S_ISREG(mode):
                out.files.append((rel, path if not rel else None, Found.of(found)))
            else:
                out.refused.append((rel, "not a regular file (a FIFO, socket or device)"))
            continue
        real, problem = _followed(path)
        if real is None:
            out.refused.append((rel, problem))
            continue
        if not follow_symlinks and real != root_real and not real.startswith(under):
            out.refused.append((rel, f"symlink leads outside the source root (to {real}); "
                                     "set follow_symlinks: true on the source to read it"))
            continue
        try:
            followed = os.stat(real)
        except OSError as exc:
            out.refused.append((rel, f"cannot follow symlink: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(followed.st_mode):
            continue
        if not stat.S_ISREG(followed.st_mode):
            out.refused.append((rel, "not a regular file (a FIFO, socket or device)"))
            continue
        out.files.append((rel, real, Found.of(followed)))
    return out
