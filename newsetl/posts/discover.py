"""Discover step: walk Hexo folders, hash every post file, and split new/changed from unchanged."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from newsetl.config import HexoDirSource
from newsetl.models import InputRef, Reject


@dataclass(slots=True)
class Discovery:
    """What discovery found: inputs to process, how many were unchanged, and sources it could not walk."""

    todo: list[InputRef] = field(default_factory=list)
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def discovered(self) -> int:
        return len(self.todo) + self.unchanged


def iter_post_files(root: Path, globs: list[str], exclude: list[str]) -> list[Path]:
    """Files under `root` matching any glob (any depth, any file name), minus excluded ones, sorted."""
    found: set[Path] = set()
    for pattern in globs:
        found.update(p for p in root.glob(pattern) if p.is_file())
    files = sorted(found)
    if exclude:
        files = [p for p in files if not any(fnmatch(p.relative_to(root).as_posix(), x) for x in exclude)]
    return files


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def discover_hexo(source: HexoDirSource, root: Path, known: dict[tuple[str, str], str],
                  out: Discovery) -> None:
    """Add one folder's post files to `out`; `known` maps (source, locator) to the last ingested hash."""
    if not root.is_dir():
        out.rejects.append(Reject(source.name, str(root), "discover", f"folder not found: {root}"))
        return
    for path in iter_post_files(root, source.globs, source.exclude):
        locator = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.rejects.append(Reject(source.name, locator, "read", f"cannot read file: {exc.strerror}"))
            continue
        digest = hash_bytes(data)
        if known.get((source.name, locator)) == digest:
            out.unchanged += 1
            continue
        out.todo.append(InputRef(source.name, "hexo_dir", locator, str(path), digest, len(data)))


def discover_sources(sources: list[tuple[HexoDirSource, Path]],
                     known: dict[tuple[str, str], str]) -> Discovery:
    out = Discovery()
    for source, root in sources:
        discover_hexo(source, root, known, out)
    return out

