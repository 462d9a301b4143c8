"""Image references as found in articles -> the one key each image is fetched and recorded under.

- `//host/x.png` takes the scheme of the article's URL (http or https), else https.
- A relative reference is resolved against the article's URL; without one it cannot be fetched.
- `data:` URIs are decoded locally; their key is `data:<media type>;sha256=<hash of the URI text>`, so
  the warehouse never holds the (possibly large) payload as a key.
- Anything that is not http, https or data is refused by policy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

FETCHABLE_SCHEMES = ("http", "https")
LOCAL_SCHEME = "local:"  # `local:<source>/<path under its folder>`: newsetl/posts/hexo_post.py LocalImages


@dataclass(frozen=True, slots=True)
class ImageTarget:
    """Where one image reference leads."""

    key: str                 # image_fetches.url
    host: str                # lower-case host, "(data)" for data: URIs, "" when unknown
    kind: str                # http | data | local | invalid
    error: str | None = None  # why it cannot be fetched (kind == "invalid")


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# An absolute http(s) URL already in its key's form: lower-case scheme and host (letters, digits, dots,
# hyphens: no user, port, IPv6 or non-ASCII host), a path, no fragment, nothing urlsplit removes (tabs,
# newlines, control characters, spaces). For these the key is the URL itself and the host its host, exactly
# what the general path below gives (tests/test_fixed_costs.py compares them); most image URLs are such.
_KEY_FORM = re.compile(r"(https?)://([a-z0-9.-]+)(/[^\x00-\x20\x7f#]*)?")


def normalize(raw: str, article_url: str | None = None) -> ImageTarget:
    """The fetch key for an image reference found in an article at `article_url`."""
    ref = (raw or "").strip()
    plain = _KEY_FORM.fullmatch(ref)
    if plain is not None and not ref.endswith("?"):  # urlsplit drops an empty query's "?"
        return ImageTarget(key=ref if plain.group(3) else ref + "/", host=plain.group(2), kind="http")
    return _normalize(ref, raw, article_url)


def _normalize(ref: str, raw: str, article_url: str | None) -> ImageTarget:
    """`normalize` the general way (urlsplit), for any reference."""
    if not ref:
        return ImageTarget(key=raw or "", host="", kind="invalid", error="empty image URL")
    lowered = ref[:5].lower()
    if lowered == "data:":
        return _data_target(ref)
    if ref.startswith(LOCAL_SCHEME):  # a file of a Hexo site on disk, read without HTTP
        return ImageTarget(key=ref, host="(local)", kind="local")
    if ref.startswith("//"):
        base_scheme = _scheme(article_url)
        ref = f"{base_scheme if base_scheme in FETCHABLE_SCHEMES else 'https'}:{ref}"
    try:
        parts = urlsplit(ref)
    except ValueError as exc:
        return ImageTarget(key=ref, host="", kind="invalid", error=f"malformed URL: {exc}")
    if not parts.scheme:
        if _scheme(article_url) in FETCHABLE_SCHEMES:
            return normalize(urljoin(article_url, ref))  # type: ignore[arg-type]
        return ImageTarget(key=ref, host="", kind="invalid", error="relative URL without an article URL to resolve it")
    scheme = parts.scheme.lower()
    if scheme not in FETCHABLE_SCHEMES:
        return ImageTarget(key=ref, host=host_of(ref), kind="invalid", error=f"unsupported scheme {scheme!r}")
    try:
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return ImageTarget(key=ref, host="", kind="invalid", error=f"malformed URL: {exc}")
    if not host:
        return ImageTarget(key=ref, host="", kind="invalid", error="URL has no host")
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    netloc = (userinfo + "@" if userinfo else "") + hostport.lower()
    key = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return ImageTarget(key=key, host=host, kind="http")


def _scheme(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""


def _data_target(ref: str) -> ImageTarget:
    header, sep, _ = ref.partition(",")
    media = header[5:].split(";")[0].strip().lower() or "text/plain"
    digest = hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()
    key = f"data:{media};sha256={digest}"
    if not sep:
        return ImageTarget(key=key, host="(data)", kind="invalid", error="malformed data: URI (no comma)")
    return ImageTarget(key=key, host="(data)", kind="data")


def decode_data_uri(ref: str) -> bytes:
    """The payload of a `data:` URI (base64 or percent-encoded); ValueError when it is malformed."""
    header, sep, payload = ref.strip().partition(",")
    if not sep:
        raise ValueError("malformed data: URI (no comma)")
    if header.lower().endswith(";base64"):
        cleaned = "".join(unquote_to_bytes(payload).decode("ascii", "replace").split())
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"bad base64 in data: URI: {exc}") from None
    return unquote_to_bytes(payload)


def split_local_key(key: str) -> tuple[str, str] | None:
    """(source name, path under its root) of a local key; None when it is not one."""
    if not key.startswith(LOCAL_SCHEME):
        return None
    source, sep, path = key[len(LOCAL_SCHEME):].partition("/")
    return (unquote(source), path) if sep and path else None


def resolve_local(root: Path, relative: str) -> Path | None:
    """The file a local key names, only when it really lies inside `root` (symlinks resolved)."""
    real_root = root.resolve()
    try:
        target = (real_root / relative).resolve()
    except (OSError, RuntimeError):
        return None
    return target if target.is_relative_to(real_root) else None
