"""Read step: input bytes -> decoded text, rejecting what is not text."""

from __future__ import annotations

from newsetl.errors import RejectError
from newsetl.models import Batch, InputRef, RawPost, Reject


def decode_text(data: bytes, encodings: list[str]) -> str:
    """Decode post bytes with the first encoding that fits; binary data is refused."""
    if b"\x00" in data:
        raise RejectError("read", "not a text file (contains NUL bytes)")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    raise RejectError("read", f"undecodable bytes (tried {', '.join(encodings)})")


def read_inputs(refs: list[InputRef], encodings: list[str]) -> Batch:
    """Read and decode a batch of local files into a Batch of RawPosts."""
    raws: list[RawPost] = []
    rejects: list[Reject] = []
    for ref in refs:
        try:
            data, ref.data = ref.data, None  # bytes read by discovery: not kept beyond decoding
            if data is None:
                with open(ref.path, "rb") as handle:
                    data = handle.read()
            raws.append(RawPost(ref, decode_text(data, encodings)))
        except OSError as exc:
            rejects.append(Reject(ref.source, ref.locator, "read", f"cannot read file: {exc.strerror}",
                                  ref.file_hash, ref.size))
        except RejectError as exc:
            rejects.append(Reject(ref.source, ref.locator, exc.stage, exc.reason, ref.file_hash, ref.size))
    return Batch(raws, rejects)
