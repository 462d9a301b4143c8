"""Site cleaning rules: loaded from YAML, matched to an article, compiled once and cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from lxml.cssselect import CSSSelector

from newsetl.errors import ConfigError

LIST_KEYS = (
    "remove", "promo_blocks", "decoration_images", "promo_image_urls", "remove_phrases", "promo_markers",
    "editor_patterns", "origin_patterns", "captions", "image_src_attrs", "bold",
    "note_patterns", "credit_patterns", "caption_words", "promo_calls", "promo_names", "caption_candidates",
)
SCALAR_KEYS = ("max_boilerplate_chars", "max_note_chars", "max_caption_chars", "max_promo_chars")
MATCH_KEYS = ("sources", "authors", "categories", "hosts")


@dataclass(frozen=True, slots=True)
class CaptionRules:
    """When a caption candidate is a caption (newsetl/posts/captions.py): its length limit and wording."""

    max_chars: int
    words: re.Pattern | None


@dataclass(frozen=True, slots=True)
class PromoShape:
    """What a promo block looks like (newsetl/posts/promo.py): calls to action, QR-code names, length limit."""

    calls: re.Pattern | None
    names: re.Pattern | None
    max_chars: int


@dataclass(frozen=True)
class CompiledRules:
    """The rules that apply to one article, ready to run."""

    remove: CSSSelector | None
    promo_blocks: CSSSelector | None
    decoration_images: CSSSelector | None
    captions: CSSSelector | None
    caption_candidates: CSSSelector | None   # judged by newsetl/posts/captions.py
    bold: CSSSelector | None
    promo_image_urls: re.Pattern | None
    remove_phrases: re.Pattern | None
    promo_markers: re.Pattern | None
    editor_patterns: tuple[re.Pattern, ...]
    origin_patterns: tuple[re.Pattern, ...]
    image_src_attrs: tuple[str, ...]
    max_boilerplate_chars: int
    max_note_chars: int
    note_patterns: tuple[re.Pattern, ...] = ()     # metadata notes cut out of paragraphs (newsetl.posts.notes)
    credit_patterns: tuple[re.Pattern, ...] = ()   # photo credits
    caption_rules: CaptionRules = CaptionRules(max_chars=60, words=None)
    promo_shape: PromoShape = PromoShape(calls=None, names=None, max_chars=80)


@dataclass(frozen=True, eq=False)  # identity hash: compiled() is cached per instance
class SiteRules:
    """The parsed rules file: a default rule set plus per-site additions with their match conditions."""

    version: str
    default: dict[str, Any]
    sites: tuple[tuple[str, dict[str, set[str]], dict[str, Any]], ...]

    def site_keys_for(self, source: str, author: str | None, categories: list[str],
                      hosts: set[str]) -> tuple[str, ...]:
        """Names of the site entries whose match conditions fit this article."""
        facts = {"sources": {source}, "authors": {author} if author else set(),
                 "categories": set(categories), "hosts": hosts}
        return tuple(name for name, match, _ in self.sites
                     if any(match.get(key, set()) & facts[key] for key in MATCH_KEYS))

    @lru_cache(maxsize=256)
    def compiled(self, site_keys: tuple[str, ...]) -> CompiledRules:
        """Default rules plus the named sites' rules, compiled (cached per combination)."""
        merged = {key: list(self.default.get(key, [])) for key in LIST_KEYS}
        scalars = {key: self.default[key] for key in SCALAR_KEYS if key in self.default}
        for name, _, body in self.sites:
            if name in site_keys:
                for key in LIST_KEYS:
                    merged[key].extend(body.get(key, []))
                scalars.update({key: body[key] for key in SCALAR_KEYS if key in body})  # a site's own limit wins
        return CompiledRules(
            remove=_selector(merged["remove"]),
            promo_blocks=_selector(merged["promo_blocks"]),
            decoration_images=_selector(merged["decoration_images"]),
            captions=_selector(merged["captions"]),
            caption_candidates=_selector(merged["caption_candidates"]),
            bold=_selector(merged["bold"]),
            promo_image_urls=_alternation(merged["promo_image_urls"]),
            remove_phrases=_alternation(merged["remove_phrases"]),
            promo_markers=_alternation(merged["promo_markers"]),
            editor_patterns=tuple(re.compile(p) for p in merged["editor_patterns"]),
            origin_patterns=tuple(re.compile(p) for p in merged["origin_patterns"]),
            image_src_attrs=tuple(merged["image_src_attrs"]) or ("src",),
            max_boilerplate_chars=int(scalars.get("max_boilerplate_chars", 60)),
            max_note_chars=int(scalars.get("max_note_chars", 160)),
            note_patterns=tuple(re.compile(p) for p in merged["note_patterns"]),
            credit_patterns=tuple(re.compile(p) for p in merged["credit_patterns"]),
            caption_rules=CaptionRules(max_chars=int(scalars.get("max_caption_chars", 60)),
                                       words=_alternation(merged["caption_words"])),
            promo_shape=PromoShape(calls=_alternation(merged["promo_calls"]), names=_alternation(merged["promo_names"]),
                                   max_chars=int(scalars.get("max_promo_chars", 80))),
        )


def _selector(selectors: list[str]) -> CSSSelector | None:
    return CSSSelector(", ".join(selectors)) if selectors else None


def _alternation(patterns: list[str]) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _check_body(where: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(body) - set(LIST_KEYS) - {"match", *SCALAR_KEYS}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in LIST_KEYS:
        if not isinstance(body.get(key, []), list):
            raise ConfigError(f"{where}.{key}: expected a list")
    return body


def parse_rules(data: Any, origin: str) -> SiteRules:
    """Validate a rules mapping and check that every selector and pattern compiles."""
    if not isinstance(data, dict) or "default" not in data:
        raise ConfigError(f"{origin}: expected a mapping with 'version', 'default' and 'sites'")
    default = _check_body(f"{origin}: default", data["default"])
    sites = []
    for name, body in (data.get("sites") or {}).items():
        body = _check_body(f"{origin}: sites.{name}", body)
        match = body.get("match") or {}
        if not isinstance(match, dict) or not match or set(match) - set(MATCH_KEYS):
            raise ConfigError(f"{origin}: sites.{name}.match: give one or more of {', '.join(MATCH_KEYS)}")
        sites.append((str(name), {k: set(map(str, v)) for k, v in match.items()}, body))
    rules = SiteRules(str(data.get("version", "0")), default, tuple(sites))
    for name, _, _ in ((None, None, None), *rules.sites):
        try:
            rules.compiled((name,) if name else ())
        except (re.error, Exception) as exc:  # cssselect raises its own SelectorSyntaxError
            raise ConfigError(f"{origin}: rules for {name or 'default'} do not compile: {exc}") from None
    return rules


def load_rules(path: Path | None = None) -> SiteRules:
    """The rules file at `path`, or the bundled `newsetl/site_rules.yaml`."""
    if path is None:
        text = resources.files("newsetl").joinpath("site_rules.yaml").read_text(encoding="utf-8")
        origin = "site_rules.yaml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read rules file {path}: {exc.strerror}") from None
        origin = str(path)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_rules(data, origin)
