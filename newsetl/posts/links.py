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
from pathlib import Path


@dataclass(slots=True)
class Screened:
    """Listed paths split into files to read (listed path, real path to read) and refusals (path, reason)."""

    files: list[tuple[Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _followed(path: Path) -> tuple[Path | None, str | None]:
    """(real path, None), or (None, why it cannot be followed)."""
    try:
        return Path(os.path.realpath(path, strict=True)), None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symlink loop (a link that leads back to itself)"
        if exc.errno == errno.ENOENT:
            return None, "broken symlink: its target does not exist"
        return None, f"cannot follow symlink: {exc.strerror or exc}"


def screen(paths: list[Path], root: Path, follow_symlinks: bool = False) -> Screened:
    """Screen the paths listed under `root` (see the module docstring)."""
    out = Screened()
    root_real = Path(os.path.realpath(root))
    folders: dict[Path, bool] = {}  # listed folder -> reached without a symlink
    for path in paths:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # gone since it was listed
        if stat.S_ISDIR(mode):
            continue
        parent = path.parent
        plain = folders.get(parent)
        if plain is None:
            plain = folders[parent] = Path(os.path.realpath(parent)) == root_real / parent.relative_to(root)
        if plain and not stat.S_ISLNK(mode):
            if stat.S_ISREG(mode):
                out.files.append((path, path))
            else:
                out.refused.append((path, "not a regular file (a FIFO, socket or device)"))
            continue
        real, problem = _followed(path)
        if real is None:
            out.refused.append((path, problem))
            continue
        if not follow_symlinks and not _inside(real, root_real):
            out.refused.append((path, f"symlink leads outside the source root (to {real}); "
                                      "set follow_symlinks: true on the source to read it"))
            continue
        try:
            target = os.stat(real).st_mode
        except OSError as exc:
            out.refused.append((path, f"cannot follow symlink: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(target):
            continue
        if not stat.S_ISREG(target):
            out.refused.append((path, "not a regular file (a FIFO, socket or device)"))
            continue
        out.files.append((path, real))
    return out
