"""Text helpers shared by dedup, keywords and search: normalisation, segmentation and token filters."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources


_NOT_WORD = re.compile(r"[\W_]+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
# A latin keyword is a whole word: a letter, then letters, digits or hyphens, at least four letters in all.
# Shorter latin terms in Chinese text are acronyms and fragments (`ai`, `ap`, `ate`) that crowd out real
# keywords (each is rare, so its TF-IDF is high); numbers with units, hosts and e-mail parts are not words.
_LATIN_WORD = re.compile(r"[a-z][a-z0-9\-]*")
MIN_LATIN_LETTERS = 4


def normalize(text: str) -> str:
    """Lower-cased NFKC text with whitespace and punctuation removed (the input of near-duplicate shingles)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def _jieba():
    """rjieba, imported when text is first segmented: its import loads the dictionary (~0.3 s), which every
    command importing the flows paid at start-up, a no-op run too."""
    import rjieba

    return rjieba


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Terms never used as keywords (bundled `stopwords.txt`)."""
    text = resources.files("newsetl.reporting").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


_CLEAN_CACHE_SIZE = 200_000
_cleaned: dict[str, str | None] = {}
_keywords: dict[str, str | None] = {}


def _clean_token(token: str) -> str | None:
    """The lower-cased, stripped token, or None for a pure whitespace/punctuation token (memoised)."""
    try:
        return _cleaned[token]
    except KeyError:
        pass
    stripped = token.strip()
    result = stripped.lower() if stripped and not _NOT_WORD.fullmatch(stripped) else None
    if len(_cleaned) >= _CLEAN_CACHE_SIZE:
        _cleaned.clear()
    _cleaned[token] = result
    return result


def _keyword_token(token: str) -> str | None:
    """The cleaned token if it is a keyword candidate (see `keyword_terms`), else None (memoised)."""
    try:
        return _keywords[token]
    except KeyError:
        pass
    term = _clean_token(token)
    result = term if term is not None and _is_keyword(term) else None
    if len(_keywords) >= _CLEAN_CACHE_SIZE:
        _keywords.clear()
    _keywords[token] = result
    return result


def _is_keyword(term: str) -> bool:
    """Two or more characters with a letter, not a stop word; a latin term must be a whole word (see above)."""
    if len(term) < 2 or not _HAS_LETTER.search(term) or term in stopwords():
        return False
    if term.isascii():  # mixed terms such as `a股` or `5g手机` are Chinese words
        return bool(_LATIN_WORD.fullmatch(term)) and sum(c.isalpha() for c in term) >= MIN_LATIN_LETTERS
    return True


def _clean(tokens: list[str]) -> list[str]:
    """Lower-cased tokens with pure whitespace/punctuation tokens dropped."""
    cleaned = map(_clean_token, tokens)
    return [t for t in cleaned if t is not None]


def search_terms(text: str) -> list[str]:
    """Fine-grained terms for the full-text index (words plus their sub-words, e.g. 新能源 and 能源)."""
    return _clean(_jieba().cut_for_search(unicodedata.normalize("NFKC", text)))


def query_terms(text: str) -> list[str]:
    """Terms of a search query: precise segmentation, each term once, in order."""
    return list(dict.fromkeys(_clean(_jieba().cut(unicodedata.normalize("NFKC", text)))))


def keyword_terms(text: str) -> list[str]:
    """Keyword candidates: precise words of two or more characters with a letter, minus stop words (Chinese and
    English) and latin fragments: a latin term must be a whole word of four or more letters."""
    terms = map(_keyword_token, _jieba().cut(unicodedata.normalize("NFKC", text)))
    return [t for t in terms if t is not None]
