"""What arrived is an image only if its bytes say so and Pillow can decode all of it.

The Content-Type header is never trusted: the first bytes (magic number) pick the format, an HTML or XML
page served with 200 is named as such, and the whole image (every frame of an animation) is decoded so a
truncated or corrupt file is rejected rather than stored.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

# A truncated file must fail, never be padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# inspect() enforces its own max_pixels before decoding; Pillow's own warning would only be noise
# (a global filter, set once: warnings.catch_warnings() per image is not thread-safe).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# format -> (extension, mime type)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tif", "image/tiff"),
    "ICO": ("ico", "image/vnd.microsoft.icon"),
    "AVIF": ("avif", "image/avif"),
}


class NotAnImage(Exception):
    """The bytes are not a usable image. `reason` is a short category, the message says more."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class ImageFacts:
    format: str
    mime_type: str
    ext: str
    width: int
    height: int
    mode: str
    frames: int


def sniff(data: bytes) -> str | None:
    """The image format named by the leading bytes, or None."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM" and len(head) >= 14:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


def _check_container(fmt: str, data: bytes) -> None:
    """Cheap structural checks that decoders forgive: a declared length longer than the data, a lost trailer."""
    if fmt == "WEBP":
        declared = int.from_bytes(data[4:8], "little") + 8
        if declared > len(data):
            raise NotAnImage("truncated", f"truncated WEBP image: {len(data)} of {declared} bytes")
    elif fmt == "PNG" and b"\x00\x00\x00\x00IEND\xaeB`\x82" not in data[-4096:]:
        raise NotAnImage("truncated", "truncated PNG image: no IEND chunk")
    elif fmt == "GIF" and not data.rstrip(b"\x00").endswith(b"\x3b"):
        raise NotAnImage("truncated", "truncated GIF image: no trailer")


def _describe_non_image(data: bytes) -> NotAnImage:
    if not data:
        return NotAnImage("empty", "empty body")
    text = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:256]:
        return NotAnImage("not_image", "HTML page, not an image")
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        return NotAnImage("unsupported", "SVG is not supported")
    if text.startswith((b"<?xml", b"<")):
        return NotAnImage("not_image", "XML/markup document, not an image")
    if text.startswith((b"{", b"[")):
        return NotAnImage("not_image", "JSON document, not an image")
    return NotAnImage("not_image", f"not an image (unknown signature {data[:8].hex()})")


def inspect(data: bytes, *, max_pixels: int = 100_000_000) -> ImageFacts:
    """Sniff and fully decode `data`; NotAnImage says why it is unusable."""
    sniffed = sniff(data)
    if sniffed is None:
        raise _describe_non_image(data)
    _check_container(sniffed, data)
    try:
        with Image.open(io.BytesIO(data), formats=[sniffed]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise NotAnImage("too_large", f"{width}x{height} pixels exceeds max_pixels {max_pixels}")
            mode = im.mode
            frames = getattr(im, "n_frames", 1) or 1
            if sniffed == "JPEG":
                # Decode at 1/8 scale: libjpeg still reads every entropy-coded byte (a cut-off or
                # corrupt stream fails the same way) but skips most of the inverse DCT work.
                im.draft(None, (max(1, width // 8), max(1, height // 8)))
            im.load()
            for index in range(1, frames):  # every frame: a cut-off animation fails here
                im.seek(index)
                im.load()
        if sniffed == "PNG":  # chunk CRCs up to IEND: catches corruption and a missing end
            with Image.open(io.BytesIO(data), formats=["PNG"]) as again:
                again.verify()
    except NotAnImage:
        raise
    except Image.DecompressionBombError as exc:
        raise NotAnImage("too_large", f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:  # its message names the buffer object's address: the same text every run
        raise NotAnImage("undecodable", f"undecodable {sniffed} image: cannot identify image file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
        text = str(exc) or type(exc).__name__
        lowered = text.lower()
        if "truncated" in lowered or isinstance(exc, EOFError) or "broken data stream" in lowered:
            raise NotAnImage("truncated", f"truncated {sniffed} image: {text}") from None
        raise NotAnImage("undecodable", f"undecodable {sniffed} image: {text}") from None
    ext, mime = FORMATS[sniffed]
    return ImageFacts(format=sniffed, mime_type=mime, ext=ext, width=width, height=height, mode=mode, frames=frames)


def thumbnail(data: bytes, size: tuple[int, int]) -> tuple[bytes, str, int, int]:
    """A thumbnail that fits in `size` with the aspect kept: (bytes, ext, width, height).

    JPEG for opaque images, PNG where there is transparency; the first frame of an animation.
    """
    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)
        im.draft("RGB", size)  # JPEG: decode at a reduced scale, much faster for big photos
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        frame = im.convert("RGBA" if has_alpha else "RGB")
    frame.thumbnail(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if has_alpha:
        frame.save(out, "PNG", optimize=True)
        ext = "png"
    else:
        frame.save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    return out.getvalue(), ext, frame.width, frame.height
