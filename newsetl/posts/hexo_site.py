"""A Hexo site's `_config.yml`: where its posts are, how their file names carry dates, and their public URLs.

Only the keys newsetl needs are read: `timezone`, `new_post_name`, `permalink`, `permalink_defaults`, `url`,
`root`, `post_asset_folder`, `source_dir`, `code_dir`. Defaults are Hexo's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from newsetl.errors import ConfigError
from newsetl.posts.limits import soft_tabs

CONFIG_NAME = "_config.yml"
# Hexo's file-name variables (hexo/lib/plugins/processor/post.js); any other `:name` matches one path segment.
_SEGMENTS = {"year": r"\d{4}", "month": r"\d{2}", "day": r"\d{2}", "i_month": r"\d{1,2}", "i_day": r"\d{1,2}",
             "hash": r"[0-9a-f]{12}", "title": r".+?"}
_VARIABLE = re.compile(r":(\w+)")
_SLUG_UNSAFE = re.compile(r"[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:\"'<>,.?/]+")
URL_SAFE = "/:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class HexoSite:
    """The settings of one Hexo site that change what newsetl stores."""

    root: Path                                  # the folder that holds _config.yml
    source_dir: str = "source"
    timezone: str | None = None                 # None: the newsetl source's zone
    new_post_name: str = ":title.md"
    permalink: str = ":year/:month/:day/:title/"
    permalink_defaults: dict = field(default_factory=dict)
    url: str | None = None                      # e.g. https://hexo.io; None: no public URLs
    url_root: str = "/"                         # `root`: where the site is served from (ends with '/')
    post_asset_folder: bool = False
    code_dir: str = "downloads/code"

    @property
    def source_root(self) -> Path:
        return self.root / self.source_dir

    @property
    def posts_dir(self) -> Path:
        return self.source_root / "_posts"

    @property
    def drafts_dir(self) -> Path:
        return self.source_root / "_drafts"

    @property
    def fingerprint(self) -> str:
        """Hash of every setting that changes a post's stored rows (its date or URL)."""
        keys = [self.timezone, self.new_post_name, self.permalink, self.permalink_defaults, self.url,
                self.post_asset_folder, self.source_dir, self.code_dir]
        if not self.url:  # posts' root-relative hrefs are stored (article_paths): `root` changes them
            keys.append({"root": self.url_root})
        return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    # -- file names ---------------------------------------------------------------------------------------
    def file_name_fields(self, relative: str) -> dict[str, str]:
        """The `new_post_name` variables found in a post's path under `_posts/` (`{}` when it does not fit)."""
        return _fields(self.new_post_name, _strip_ext(relative))

    def file_name_date(self, relative: str, zone: ZoneInfo) -> datetime | None:
        """The date `new_post_name` puts in the file name (midnight in `zone`), as Hexo reads it."""
        fields = self.file_name_fields(relative)
        year = fields.get("year")
        month = fields.get("month") or fields.get("i_month")
        day = fields.get("day") or fields.get("i_day")
        if not (year and month and day):
            return None
        try:
            return datetime(int(year), int(month), int(day), tzinfo=zone)
        except ValueError:
            return None

    def slug(self, relative: str) -> str:
        """The post's slug: `:title` of `new_post_name`, else its path under `_posts/` without extension."""
        stripped = _strip_ext(relative)
        return _fields(self.new_post_name, stripped).get("title") or stripped

    # -- URLs -------------------------------------------------------------------------------------------
    def post_path(self, relative: str, local: datetime | None, *, category: list[str], lang: str | None,
                  front_permalink: str | None, front: dict | None = None) -> str | None:
        """The post's path under the site URL (Hexo's `post.path`), or None when the permalink needs a value
        the post lacks. `category`: the post's last category with its parents (`:category` is their slugs
        joined by '/'). As Hexo's post_permalink filter, a variable no post field names is taken from the
        post's front matter (`front`: `:abbrlink`, hexo-abbrlink's), else from `permalink_defaults`."""
        if front_permalink:
            return front_permalink.lstrip("/")
        slug = self.slug(relative)
        values = {"title": slug, "name": PurePosixPath(slug).name, "post_title": slug,
                  "category": "/".join(slugize(c) for c in category) or "uncategorized"}
        if lang:
            values["lang"] = lang
        if local is not None:
            values.update(year=f"{local.year:04d}", month=f"{local.month:02d}", day=f"{local.day:02d}",
                          i_month=str(local.month), i_day=str(local.day), hour=f"{local.hour:02d}",
                          minute=f"{local.minute:02d}", second=f"{local.second:02d}")
        for name in {m.group(1) for m in _VARIABLE.finditer(self.permalink)} - values.keys():
            value = _front_value((front or {}).get(name))
            if value is None:
                value = (self.permalink_defaults or {}).get(name)
            if value is None:
                return None
            values[name] = str(value)
        path = _VARIABLE.sub(lambda m: values[m.group(1)], self.permalink)
        return path.lstrip("/")

    def public_url(self, path: str | None) -> str | None:
        """`url` + the post's path, percent-encoded as Hexo does (None without `url:`)."""
        if not self.url or path is None:
            return None
        return f"{self.url.rstrip('/')}/{quote(path, safe=URL_SAFE)}"

    def site_href(self, path: str | None) -> str | None:
        """`root` + the post's path, percent-encoded: Hexo's `url_for(post.path)`, what post_link links to
        (hexo/lib/plugins/tag/post_link.ts); used when the site has no `url:`."""
        if path is None:
            return None
        return f"{self.url_root}{quote(path, safe=URL_SAFE)}"


@lru_cache(maxsize=32)
def _file_name_regex(new_post_name: str) -> re.Pattern:
    """`new_post_name` (without extension) as a regex with a named group per variable (compiled once)."""
    pattern = _strip_ext(new_post_name.strip())
    regex, names = [], []
    position = 0
    for match in _VARIABLE.finditer(pattern):
        regex.append(re.escape(pattern[position:match.start()]))
        name = match.group(1)
        if name in names:  # the same variable twice: the second must equal the first
            regex.append(f"(?P={name})")
        else:
            names.append(name)
            regex.append(f"(?P<{name}>{_SEGMENTS.get(name, r'[^/]+?')})")
        position = match.end()
    regex.append(re.escape(pattern[position:]))
    return re.compile("".join(regex))


def _fields(new_post_name: str, stripped: str) -> dict[str, str]:
    found = _file_name_regex(new_post_name).fullmatch(stripped)
    return {k: v for k, v in found.groupdict().items() if v is not None} if found else {}


def slugize(text: str) -> str:
    """Hexo's slugize for category names in permalinks (separators become '-')."""
    return _SLUG_UNSAFE.sub("-", text.strip()).strip("-")


def _strip_ext(path: str) -> str:
    name = PurePosixPath(path)
    return str(name.with_suffix("")) if name.suffix else path


def find_site_config(path: Path, site_config: Path | None = None) -> Path | None:
    """The `_config.yml` of a Hexo site: `site_config` when given, else `<path>/_config.yml` if it exists."""
    if site_config is not None:
        return site_config
    candidate = path / CONFIG_NAME
    return candidate if candidate.is_file() else None


def _front_value(value: object) -> str | None:
    """A front-matter value as a permalink variable's text; None when it cannot be one (a list, mapping,
    boolean or blank text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        return None
    return str(value)


class _SiteConfigLoader(yaml.CSafeLoader):
    """PyYAML's safe loader, reading a tag it does not know as the plain value it tags.

    Hexo reads `_config.yml` with js-yaml, which takes tags such as `!!js/regexp /^\\s*more/` (a real blog's
    minifier option); a safe loader refused them, and with them the whole site. newsetl reads none of those
    keys: the tagged value stays plain data (a string, list or mapping), nothing is constructed from a tag.
    """


def _untagged(loader: yaml.CSafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_SiteConfigLoader.add_multi_constructor("", _untagged)  # only tags without a constructor of their own


def load_site(config_path: Path) -> HexoSite:
    """Read a Hexo `_config.yml`; ConfigError (one line) when it is missing or not a YAML mapping."""
    try:
        data = yaml.load(soft_tabs(config_path.read_text(encoding="utf-8")), Loader=_SiteConfigLoader)
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read Hexo site config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{config_path}: a Hexo site config must be a mapping of keys to values")
    zone = _text(data.get("timezone"))
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{config_path}: timezone: unknown time zone {zone!r}") from None
    defaults = data.get("permalink_defaults")
    return HexoSite(
        root=config_path.parent.resolve(),
        source_dir=_text(data.get("source_dir")) or "source",
        timezone=zone,
        new_post_name=_text(data.get("new_post_name")) or ":title.md",
        permalink=_text(data.get("permalink")) or ":year/:month/:day/:title/",
        permalink_defaults=defaults if isinstance(defaults, dict) else {},
        url=_text(data.get("url")),
        url_root=(_text(data.get("root")) or "/").rstrip("/") + "/",  # as Hexo's load_config: one '/' at the end
        post_asset_folder=data.get("post_asset_folder") is True,
        code_dir=_text(data.get("code_dir")) or "downloads/code",
    )


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    text = str(value).strip()
    return text or None
