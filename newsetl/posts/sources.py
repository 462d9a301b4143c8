"""The posts options of each hexo_dir source, built once per run in the flow process (it reads the config and
each Hexo site's `_config.yml`); the workers only get the resulting `PostOptions`."""

from __future__ import annotations

from pathlib import Path

from newsetl.config import Config, HexoDirSource, check_zone
from newsetl.errors import ConfigError
from newsetl.models import Reject
from newsetl.posts.hexo_site import find_site_config, load_site
from newsetl.posts.options import PostOptions


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


def usable_options(config: Config, sources: list[HexoDirSource]) -> tuple[dict[str, PostOptions], list[Reject]]:
    """Options of each hexo_dir source, by name; a source whose Hexo site config cannot be used (unreadable,
    invalid YAML, unknown time zone) is left out of the run as a `discover` reject, and the other sources go on."""
    options: dict[str, PostOptions] = {}
    rejects: list[Reject] = []
    for source in sources:
        try:
            options[source.name] = source_options(source, config)
        except (ConfigError, ValueError) as exc:
            rejects.append(Reject(source.name, str(config.resolve(source.path)), "discover", str(exc)))
    return options, rejects


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
