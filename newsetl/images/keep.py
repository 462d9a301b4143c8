"""Verify one downloaded body and keep it: decode it fully, hash it, write it into the store, make thumbnails.

Plain functions of the bytes, the rules and the store, so they run the same in a thread of the flow process or
in a verifier process (`newsetl.images.verify_pool`). This module imports no config and no HTTP client, so a
verifier process starts with Pillow and hashlib only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from newsetl.images.store import ImageStore
from newsetl.images.verify import NotAnImage, inspect, thumbnail


@dataclass(frozen=True, slots=True)
class KeepRules:
    """What `keep` checks and derives (from `ImagesConfig`)."""

    max_pixels: int = 100_000_000
    min_width: int = 0
    min_height: int = 0
    thumbnails: tuple[tuple[str, int, int], ...] = ()   # (name, max width, max height)

    @classmethod
    def of(cls, cfg) -> "KeepRules":  # noqa: ANN001 - an ImagesConfig; not imported here (see the docstring)
        return cls(max_pixels=cfg.max_pixels, min_width=cfg.min_width, min_height=cfg.min_height,
                   thumbnails=tuple((name, w, h) for name, (w, h) in cfg.thumbnails.items()))


@dataclass(slots=True)
class Thumbnail:
    name: str
    width: int
    height: int
    bytes: int
    path: str                       # store-relative


@dataclass(slots=True)
class StoredImage:
    sha256: str
    format: str
    mime_type: str
    width: int
    height: int
    mode: str
    frames: int
    bytes: int
    path: str                       # store-relative
    new_file: bool
    thumbnails: list[Thumbnail] = field(default_factory=list)


class Rejected(Exception):
    """The body is not kept: `status` failed or skipped, `reason` a short category, the message for people."""

    def __init__(self, status: str, reason: str, error: str) -> None:
        super().__init__(error)
        self.status, self.reason, self.error = status, reason, error

    def __reduce__(self):  # noqa: ANN204 - picklable with all three fields (it crosses the verifier's socket)
        return Rejected, (self.status, self.reason, self.error)


def keep(data: bytes, rules: KeepRules, store: ImageStore) -> StoredImage:
    """Decode `data` fully (`verify.inspect`), check the size rules, store it once by its sha256, add thumbnails.

    Raises `Rejected` for a body that is not a usable image or is too small.
    """
    try:
        facts = inspect(data, max_pixels=rules.max_pixels)
    except NotAnImage as exc:
        raise Rejected("failed", exc.reason, str(exc)) from None
    if facts.width < rules.min_width or facts.height < rules.min_height:
        raise Rejected("skipped", "too_small",
                       f"{facts.width}x{facts.height} is below the minimum {rules.min_width}x{rules.min_height}")
    sha = hashlib.sha256(data).hexdigest()
    relative = store.relative(sha, facts.ext)
    new_file = store.put(relative, data)
    image = StoredImage(
        sha256=sha, format=facts.format, mime_type=facts.mime_type, width=facts.width, height=facts.height,
        mode=facts.mode, frames=facts.frames, bytes=len(data), path=relative, new_file=new_file,
    )
    for name, width, height in rules.thumbnails:
        image.thumbnails.append(_thumbnail(store, sha, data, name, (width, height)))
    return image


def _thumbnail(store: ImageStore, sha: str, data: bytes, name: str, size: tuple[int, int]) -> Thumbnail:
    suffix = f".{name}-{size[0]}x{size[1]}"
    for ext in ("jpg", "png"):
        relative = store.relative(sha, ext, suffix)
        if store.exists(relative):
            from PIL import Image

            with Image.open(store.path(relative)) as existing:
                width, height = existing.size
            return Thumbnail(name, width, height, store.path(relative).stat().st_size, relative)
    blob, ext, width, height = thumbnail(data, size)
    relative = store.relative(sha, ext, suffix)
    store.put(relative, blob)
    return Thumbnail(name, width, height, len(blob), relative)
