"""Text helpers shared by dedup, keywords and search: normalisation, segmentation and token filters."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

import rjieba

_NOT_WORD = re.compile(r"[\W_]+")
_HAS_LETTER = re.compile(r"[^\W\d_]")


def normalize(text: str) -> str:
    """Lower-cased NFKC text with whitespace and punctuation removed (the input of near-duplicate shingles)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Terms never used as keywords (bundled `stopwords.txt`)."""
    text = resources.files("newsetl.reporting").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _clean(tokens: list[str]) -> list[str]:
    """Lower-cased tokens with pure whitespace/punctuation tokens dropped."""
    return [t.lower() for t in (tok.strip() for tok in tokens) if t and not _NOT_WORD.fullmatch(t)]


def search_terms(text: str) -> list[str]:
    """Fine-grained terms for the full-text index (words plus their sub-words, e.g. 新能源 and 能源)."""
    return _clean(rjieba.cut_for_search(unicodedata.normalize("NFKC", text)))


def query_terms(text: str) -> list[str]:
    """Terms of a search query: precise segmentation, each term once, in order."""
    return list(dict.fromkeys(_clean(rjieba.cut(unicodedata.normalize("NFKC", text)))))


def keyword_terms(text: str) -> list[str]:
    """Keyword candidates: precise words of two or more characters with a letter, minus stop words."""
    stop = stopwords()
    return [
        t for t in _clean(rjieba.cut(unicodedata.normalize("NFKC", text)))
        if len(t) >= 2 and _HAS_LETTER.search(t) and t not in stop
    ]
