"""A cheap necessary condition for a regular expression: words that any match must contain.

Most of the rules' patterns (newsetl/site_rules.yaml) need a word such as "作者", "经授权" or "二维码" in
every match, and most paragraphs contain none of them. Checking `word in text` (a C substring search) first
skips the regular-expression search, which tries the pattern at every position of the paragraph; where the
check passes, the pattern runs exactly as before. So `search(pattern, text)` returns what
`pattern.search(text)` returns, always.

The words come from the pattern's own parse tree (`re._parser`): a run of literal characters that every match
passes through, one word per branch of an alternation every match passes through, or one character per member
of a class of plain characters (`[▼↓⬇]`). A pattern with none
(`^[▼↓⬇]+$`), case-insensitive flags or anything unusual gets no condition and is always searched.
"""

from __future__ import annotations

import re

from newsetl.posts.identity_cache import IdentityCache

try:
    from re import _constants as C, _parser as P  # Python 3.11+
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

_REPEATS = tuple(getattr(C, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(C, name))
_ATOMIC = getattr(C, "ATOMIC_GROUP", None)


def _best(candidates: list[frozenset[str]]) -> frozenset[str] | None:
    """The most selective requirement: fewest words, then the longest shortest word."""
    if not candidates:
        return None
    return min(candidates, key=lambda words: (len(words), -min(map(len, words))))


def _sequence(items: list) -> frozenset[str] | None:
    """Words (any one of them) that every match of this sequence of parsed items contains, or None."""
    candidates: list[frozenset[str]] = []
    characters: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        found = None
        if op is C.SUBPATTERN:
            _, add_flags, del_flags, sub = av
            if not add_flags and not del_flags:
                found = _sequence(list(sub))
        elif _ATOMIC is not None and op is _ATOMIC:
            found = _sequence(list(av))
        elif op is C.BRANCH:
            branches = [_sequence(list(branch)) for branch in av[1]]
            if all(branches):
                found = frozenset().union(*branches)
        elif op in _REPEATS:
            low, _, sub = av
            if low >= 1:
                found = _sequence(list(sub))
        elif op is C.IN and all(kind is C.LITERAL for kind, _ in av):  # a class of plain characters: `[▼↓⬇]`
            characters.append(frozenset(chr(code) for _, code in av))
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset(["".join(run)]))
    return _best(candidates) or _best(characters)  # single characters only when there are no words


def needed(pattern: re.Pattern) -> tuple[str, ...] | None:
    """Words of which every match of `pattern` contains at least one; None when there is no such condition."""
    if pattern.flags & (re.IGNORECASE | re.VERBOSE) or not isinstance(pattern.pattern, str):
        return None
    try:
        words = _sequence(list(P.parse(pattern.pattern, pattern.flags)))
    except Exception:  # noqa: BLE001 - an internal parser we cannot read: no condition, search as usual
        return None
    return tuple(sorted(words, key=lambda w: (-len(w), w))) if words and all(words) else None


def _words_pattern(words: set[str] | tuple[str, ...]) -> re.Pattern:
    """One search for any of `words` (longest first; the order does not change whether one is found)."""
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))))


# Gates by the identity of the pattern (or tuple of patterns) they belong to: one per rule set's patterns.
_gates: IdentityCache[re.Pattern | tuple[re.Pattern, ...], re.Pattern | None] = IdentityCache()


def gate(patterns: re.Pattern | tuple[re.Pattern, ...]) -> re.Pattern | None:
    """A pattern finding any word that a match of `patterns` (one, or any of several) needs; None when one of
    them needs none. `gate(p).search(text) is None` proves that no pattern matches anywhere in `text`."""
    return _gates.get(patterns, _gate)


def _gate(patterns: re.Pattern | tuple[re.Pattern, ...]) -> re.Pattern | None:
    words: set[str] = set()
    for pattern in (patterns,) if isinstance(patterns, re.Pattern) else patterns:
        found = needed(pattern)
        if found is None:
            return None
        words.update(found)
    return _words_pattern(words) if words else None


def search(pattern: re.Pattern, text: str) -> re.Match | None:
    """`pattern.search(text)`, skipped (None) when `text` lacks every word a match needs."""
    words = gate(pattern)
    if words is not None and words.search(text) is None:
        return None
    return pattern.search(text)


class _Plan:
    """For a tuple of patterns: one search for all their words, and which patterns each word found admits."""

    __slots__ = ("patterns", "any_word", "finder", "needs", "admitted")

    def __init__(self, patterns: tuple[re.Pattern, ...], needs: list[tuple[str, ...]]) -> None:
        self.patterns = patterns
        self.needs = needs
        words = {w for found in needs for w in found}
        # At every position, the longest word starting there (a lookahead, so overlapping words are all seen).
        alternation = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
        self.any_word = re.compile(alternation)  # the quick test: no word at all (most paragraphs)
        self.finder = re.compile(f"(?=({alternation}))")
        self.admitted: dict[frozenset[str], tuple[re.Pattern, ...]] = {}

    def candidates(self, text: str) -> tuple[re.Pattern, ...]:
        if self.any_word.search(text) is None:
            return ()
        found = frozenset(self.finder.findall(text))
        admitted = self.admitted.get(found)
        if admitted is None:
            # a word w occurs at a position iff the longest word found there starts with w
            admitted = tuple(p for p, need in zip(self.patterns, self.needs)
                             if any(f.startswith(w) for f in found for w in need))
            if len(self.admitted) < 4096:
                self.admitted[found] = admitted
        return admitted


_plans: dict[int, tuple[object, _Plan | None]] = {}


def candidates(patterns: tuple[re.Pattern, ...], text: str) -> tuple[re.Pattern, ...]:
    """The patterns of `patterns` (in order) that may match `text` or what is left of it after earlier
    patterns' matches were cut out and replaced by a space: the others lack a word they need, and cutting
    cannot make such a word appear unless it contains a space (then every pattern is a candidate)."""
    cached = _plans.get(id(patterns))
    if cached is None or cached[0] is not patterns:
        needs = [needed(p) for p in patterns]
        usable = all(n is not None and not any(" " in w for w in n) for n in needs) and bool(needs)
        if len(_plans) > 4096:
            _plans.clear()
        cached = _plans[id(patterns)] = (patterns, _Plan(patterns, needs) if usable else None)
    plan = cached[1]
    return patterns if plan is None else plan.candidates(text)
