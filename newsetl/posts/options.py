"""Per-source options of the posts pipeline (zone, body format, Hexo site), handed to the workers with each
batch. Worker-side: imports no config (pydantic); the flow builds them with newsetl/posts/sources.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from newsetl.posts.hexo_site import HexoSite
from newsetl.posts.link_targets import LinkTargets


@dataclass(slots=True)
class PostOptions:
    """How the posts of one source are read."""

    zone: ZoneInfo                        # for naive dates
    body_format: str = "auto"             # auto | html | markdown
    site: HexoSite | None = None          # the Hexo site's _config.yml, when there is one
    root: Path | None = None              # the folder the source's locators are relative to
    local_root: Path | None = None        # the folder local image keys are relative to (nothing outside is read)
    links: LinkTargets | None = None      # the site's posts post_link may name (None: not known yet)
    defer_links: bool = False             # without `links`: hand posts that use post_link back (link_targets.py)

    @property
    def fingerprint(self) -> str:
        """Mixed into each file's hash: a site config change that alters dates or URLs reprocesses the posts."""
        return self.site.fingerprint if self.site is not None else ""


def as_options(value: "PostOptions | ZoneInfo") -> PostOptions:
    """Callers that only know a zone (feeds, post URLs) pass a ZoneInfo."""
    return value if isinstance(value, PostOptions) else PostOptions(zone=value)
