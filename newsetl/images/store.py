"""Content-addressed image store: `<root>/ab/cd/<sha256>.<ext>`, each distinct content once.

File names come from the content hash, never from the URL. A file is written to a hidden temporary name in
its final folder and renamed into place, so a crash leaves at most a `.tmp` file, never a half image under
a real name.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path


class ImageStore:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self._made: set[Path] = set()
        self._guard = threading.Lock()
        self._writing: dict[str, threading.Lock] = {}  # one writer per file: duplicates wait, then find it

    def relative(self, sha256: str, ext: str, suffix: str = "") -> str:
        """Store-relative POSIX path of a file: `ab/cd/<sha256><suffix>.<ext>`."""
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}.{ext}"

    def path(self, relative: str) -> Path:
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def put(self, relative: str, data: bytes) -> bool:
        """Write `data` at `relative` unless it is already there; True when a new file was written.

        Thread-safe: two threads storing the same content write it once.
        """
        with self._guard:
            lock = self._writing.setdefault(relative, threading.Lock())
        try:
            with lock:
                return self._put(relative, data)
        finally:
            with self._guard:
                if not lock.locked():
                    self._writing.pop(relative, None)

    def _put(self, relative: str, data: bytes) -> bool:
        target = self.root / relative
        try:
            if os.stat(target).st_size == len(data):
                return False  # same name = same content (the name is its hash)
        except FileNotFoundError:
            pass
        folder = target.parent
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        temp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return True

    def sweep_temporaries(self, older_than: float = 3600.0) -> int:
        """Remove `.tmp` files a crashed run left behind (older than `older_than` seconds)."""
        import time

        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for temp in self.root.glob("*/*/.*.tmp"):
            try:
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed
