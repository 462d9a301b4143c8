"""Values computed once per object, looked up by the object's identity.

The cleaner's gates (newsetl/posts/literals.py, selector_gate.py, clean.py) belong to compiled patterns,
tuples of them, CSS selectors and compiled rule sets: objects made once per rule set and met again on every
post, where hashing them by value (a tuple of patterns, a dataclass of selectors) would cost more than the
lookup saves. An entry holds its object, so the object's id cannot be reused while the entry exists; the
cache is emptied when it passes `limit` entries (rule sets are few: it never grows without bound).
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """`get(key, make)`: `make(key)`, computed once per `key` object (by identity)."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._entries: dict[int, tuple[K, V]] = {}
        self._limit = limit

    def get(self, key: K, make: Callable[[K], V]) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
        value = make(key)
        if len(self._entries) > self._limit:
            self._entries.clear()
        self._entries[id(key)] = (key, value)
        return value
