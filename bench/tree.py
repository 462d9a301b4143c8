"""Import newsetl from another checkout of this repository (e.g. a `git worktree` of an older commit).

The editable install maps `newsetl.flows`, `newsetl.tasks` and `newsetl.warehouse` to the repository's
top-level folders; `use_tree(path)` puts a finder in front of it that maps all four names into `path`, so
code from two commits can be run and compared (each in its own process).
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

PACKAGES = {"newsetl": "newsetl", "newsetl.flows": "flows", "newsetl.tasks": "tasks",
            "newsetl.warehouse": "warehouse"}


class _TreeFinder(importlib.machinery.PathFinder):
    root: Path

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):  # noqa: ANN001 - the importlib protocol
        if fullname in PACKAGES:
            folder = cls.root / PACKAGES[fullname]
            return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
        parent = fullname.rpartition(".")[0]
        if parent in PACKAGES:
            return importlib.machinery.PathFinder.find_spec(fullname, [str(cls.root / PACKAGES[parent])])
        return None


def use_tree(root: str | Path) -> None:
    """Import newsetl (and its flows/tasks/warehouse) from the checkout at `root`; call before importing it."""
    if any(name == "newsetl" or name.startswith("newsetl.") for name in sys.modules):
        raise RuntimeError("newsetl is already imported")
    import importlib.util  # noqa: F401 - spec_from_file_location above

    _TreeFinder.root = Path(root).resolve()
    sys.meta_path.insert(0, _TreeFinder)
