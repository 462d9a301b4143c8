"""Which source a post file given on the command line belongs to, so its article id does not depend on the PATH.

An article id is a hash of (source name, locator relative to the source root). `newsetl ingest PATH` picks
the root, in this order:

1. a configured `hexo_dir` source whose folder holds PATH: that source (its name, root, globs' style, zone);
2. the nearest folder holding PATH that an earlier ad-hoc ingest used as its root (`source_roots` table);
3. the Hexo `_posts` folder holding PATH (a site's `source/_posts`), named after the site folder;
4. else PATH itself (a file: its folder), named after the folder, and recorded as a new root.

A root that holds a known root below it leaves that subtree to it: the subtree keeps its own source. So the
same file reached through a parent or a child folder, in either order, is one article.
A new root whose name is already taken by another root gets `-2`, `-3`, ... appended.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from newsetl.config import HexoDirSource

DEFAULT_GLOBS = ["**/*.md"]


@dataclass(slots=True)
class PathSources:
    """The sources to list for a set of PATHs, and the ad-hoc roots seen for the first time (root -> name)."""

    sources: list[HexoDirSource] = field(default_factory=list)
    new_roots: dict[str, str] = field(default_factory=dict)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _sub_globs(rel: Path, globs: list[str]) -> list[str]:
    prefix = glob.escape(rel.as_posix())
    return [f"{prefix}/{g}" for g in globs] if rel.parts else list(globs)


def _hexo_posts_root(path: Path) -> Path | None:
    for folder in [path, *path.parents]:
        if folder.name == "_posts":
            return folder
    return None


def _site_name(posts: Path) -> str:
    """`blog/source/_posts` -> `blog`."""
    parent = posts.parent
    return (parent.parent.name if parent.name == "source" else parent.name) or "_posts"


def sources_for_paths(paths: list[str], configured: list[tuple[HexoDirSource, Path]],
                      recorded: dict[str, str]) -> PathSources:
    """Sources for PATHs (folders or post files); `configured` are (source, resolved root), `recorded` root -> name."""
    known: list[tuple[Path, HexoDirSource]] = [(root.resolve(), source) for source, root in configured]
    configured_roots = {root for root, _ in known}
    known += [(Path(root), HexoDirSource(name=name, path=Path(root)))
              for root, name in recorded.items() if Path(root) not in configured_roots]
    taken = {source.name: root for root, source in known}
    out = PathSources()
    wanted: dict[tuple[str, Path], HexoDirSource] = {}

    def want(source: HexoDirSource, root: Path, globs: list[str], exclude: list[str]) -> None:
        key = (source.name, root)
        if key in wanted:
            have = wanted[key]
            have.globs = sorted(set(have.globs) | set(globs))
        else:
            wanted[key] = source.model_copy(update={"path": root, "globs": list(globs), "exclude": list(exclude)})

    for raw in paths:
        path = Path(raw).resolve()
        holders = [(root, source) for root, source in known if _inside(path, root)]
        if holders:
            root, source = max(holders, key=lambda item: len(item[0].parts))  # the nearest; configured on a tie
            rel = path.relative_to(root)
            globs = [glob.escape(rel.as_posix())] if path.is_file() else _sub_globs(rel, source.globs)
            want(source, root, globs, source.exclude)
            continue
        root = _hexo_posts_root(path) or (path.parent if path.is_file() else path)
        name = _site_name(root) if root.name == "_posts" else (root.name or "root")
        if str(root) in out.new_roots:
            name = out.new_roots[str(root)]
        else:
            base, n = name, 1
            while name in taken and taken[name] != root:
                n += 1
                name = f"{base}-{n}"
            taken[name] = root
            out.new_roots[str(root)] = name
        source = HexoDirSource(name=name, path=root)
        rel = path.relative_to(root)
        nested = [(r, s) for r, s in known if r != root and root in r.parents]
        exclude = [f"{glob.escape(r.relative_to(root).as_posix())}/*" for r, _ in nested]
        globs = [glob.escape(rel.as_posix())] if path.is_file() else _sub_globs(rel, DEFAULT_GLOBS)
        want(source, root, globs, exclude)
        for nested_root, nested_source in nested:  # their subtrees keep their own source
            if path.is_file() or not (_inside(nested_root, path)):
                continue
            want(nested_source, nested_root, nested_source.globs, nested_source.exclude)
        known.append((root, source))
    out.sources = list(wanted.values())
    return out
