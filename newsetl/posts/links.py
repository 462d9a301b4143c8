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
from array import array
from dataclasses import dataclass, field


@dataclass(slots=True)
class Screened:
    """Listed paths split into files to read and refusals (path, reason).

    The files, in listing order: `rels`, the listed paths relative to the root as POSIX strings ('' for the
    root itself); `stats`, the size and mtime_ns of each (flat, two numbers a file) and `inodes`, from the stat
    screening took of the file it leads to; `reals`, position -> the absolute real path to read, only for the
    files not read at root/path (reached through a symlink, or the root itself).
    """

    rels: list[str] = field(default_factory=list)
    stats: array = field(default_factory=lambda: array("q"))
    inodes: array = field(default_factory=lambda: array("Q"))
    reals: dict[int, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def add(self, rel: str, real: str | None, found: os.stat_result) -> None:
        if real is not None:
            self.reals[len(self.rels)] = real
        self.rels.append(rel)
        self.stats.append(found.st_size)
        self.stats.append(found.st_mtime_ns)
        self.inodes.append(found.st_ino)


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
                out.add(rel, path if not rel else None, found)
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
        out.add(rel, real, followed)
    return out
