"""What `{% post_link %}` and `{% post_path %}` may point at: the other posts of the same site.

Worker-side data (plain Python). The flow builds a `LinkTargets` per source with newsetl/posts/post_links.py
and hands it to the workers in `PostOptions.links`; a post that used these tags while its options had no
targets yet comes back as a `DeferredPost` (its text kept) and is prepared again once the targets are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsetl.models import RawPost


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """The post a slug names: its title and its public URL (None when the site has no `url:`)."""

    title: str
    url: str | None


@dataclass(slots=True)
class LinkTargets:
    """Posts of one site by slug and by title: Hexo looks a post_link up by slug, then by title."""

    by_slug: dict[str, LinkTarget] = field(default_factory=dict)
    by_title: dict[str, LinkTarget] = field(default_factory=dict)

    def add(self, slug: str, target: LinkTarget) -> None:
        self.by_slug[slug] = target
        self.by_title.setdefault(target.title, target)

    def find(self, slug: str) -> LinkTarget | None:
        return self.by_slug.get(slug) or self.by_title.get(slug)


@dataclass(slots=True)
class DeferredPost:
    """A post that used post_link/post_path before its targets were known: its text, the slugs it names,
    and its own title and URL (other deferred posts may link to it)."""

    raw: RawPost
    slugs: list[str]
    title: str
    url: str | None
