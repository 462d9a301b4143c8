"""Per-source options of the posts pipeline (zone, body format, Hexo site), built once per run in the flow
and handed to the workers with each batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from newsetl.config import Config, HexoDirSource, check_zone
from newsetl.errors import ConfigError
from newsetl.posts.hexo_site import HexoSite, find_site_config, load_site


@dataclass(slots=True)
class PostOptions:
    """How the posts of one source are read."""

    zone: ZoneInfo                        # for naive dates
    body_format: str = "auto"             # auto | html | markdown
    site: HexoSite | None = None          # the Hexo site's _config.yml, when there is one
    root: Path | None = None              # the folder the source's locators are relative to
    local_root: Path | None = None        # the folder local image keys are relative to (nothing outside is read)

    @property
    def fingerprint(self) -> str:
        """Mixed into each file's hash: a site config change that alters dates or URLs reprocesses the posts."""
        return self.site.fingerprint if self.site is not None else ""


def as_options(value: "PostOptions | ZoneInfo") -> PostOptions:
    """Callers that only know a zone (feeds, post URLs) pass a ZoneInfo."""
    return value if isinstance(value, PostOptions) else PostOptions(zone=value)


def source_options(source: HexoDirSource, config: Config) -> PostOptions:
    """A hexo_dir source's options: with a site config (`site_config:`, or `_config.yml` in `path`), posts
    are read from `<source_dir>/_posts`, dated and given URLs as Hexo does, zone from the site config."""
    path = config.resolve(source.path)
    named = config.resolve(source.site_config) if source.site_config else None
    found = find_site_config(path, named)
    site = load_site(found) if found is not None else None
    if source.timezone:
        zone = check_zone(source.timezone)
    elif site is not None and site.timezone:
        zone = check_zone(site.timezone)
    else:
        zone = check_zone(config.timezone)
    root = site.posts_dir if site is not None and path == site.root else path
    return PostOptions(zone=zone, body_format=source.body_format, site=site, root=root,
                       local_root=site.root if site is not None else path)


def post_options(config: Config, sources: list[HexoDirSource]) -> dict[str, PostOptions]:
    """Options of each hexo_dir source, by name."""
    return {s.name: source_options(s, config) for s in sources}


def local_roots(config: Config) -> dict[str, Path]:
    """Source name -> the folder its local image keys are relative to (for the images step)."""
    roots = {}
    for source in config.sources:
        if isinstance(source, HexoDirSource):
            try:
                roots[source.name] = source_options(source, config).local_root
            except (ConfigError, ValueError):  # a broken site config fails the ingest itself
                continue
    return roots


def count_drafts(source: HexoDirSource, options: PostOptions) -> int:
    """Files in the Hexo site's `_drafts/` matching the source's globs: skipped, but counted."""
    site = options.site
    if site is None or options.root != site.posts_dir or not site.drafts_dir.is_dir():
        return 0
    return len({p for pattern in source.globs for p in site.drafts_dir.glob(pattern) if p.is_file()})
