"""The `newsetl.yaml` configuration: a validated model with one clear error per mistake.

Every section is a pydantic model that forbids unknown keys, so a typo is an error, not a silent default.
Relative paths are resolved against the directory of the config file (or the working directory).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Mapping, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsetl.durations import parse_duration
from newsetl.errors import ConfigError

if TYPE_CHECKING:
    from newsetl.rules import SiteRules

DEFAULT_CONFIG_NAME = "newsetl.yaml"
DEFAULT_WAREHOUSE = "data/newsetl.duckdb"


class Section(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class HexoDirSource(Section):
    """A folder of Hexo post files (YAML front matter + HTML or Markdown body), walked recursively."""

    type: Literal["hexo_dir"] = "hexo_dir"
    name: str
    path: Path
    globs: list[str] = Field(default_factory=lambda: ["**/*.md"])
    exclude: list[str] = Field(default_factory=list)
    timezone: str | None = None  # zone for naive front-matter dates; default: the site config's, the top-level one
    body_format: Literal["auto", "html", "markdown"] = "auto"  # auto: HTML when the body is HTML, else Markdown
    site_config: Path | None = None  # a Hexo _config.yml; default: `_config.yml` in `path` when there is one
    follow_symlinks: bool = False  # read files whose symlinks lead outside `path` (loops are rejects either way)


def _http_url(value: str) -> str:
    """A stripped http(s) URL, or a ValueError that names it."""
    url = value.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {value!r}")
    return url


class FeedUrl(Section):
    """One feed URL, optionally with its own category path (else the source's)."""

    url: str
    categories: list[str] | None = None

    _check_url = field_validator("url")(_http_url)


class FeedSource(Section):
    """RSS/Atom feeds; each item becomes an article with the feed's category path."""

    type: Literal["feed"]
    name: str
    urls: list[Union[str, FeedUrl]] = Field(min_length=1)
    categories: list[str] = Field(default_factory=list)  # e.g. [金融, 新浪财经, 新浪财经－国內]

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: list[Union[str, FeedUrl]]) -> list[Union[str, FeedUrl]]:
        return [_http_url(v) if isinstance(v, str) else v for v in value]

    def feed_urls(self) -> list[FeedUrl]:
        """Every URL with its effective category path."""
        return [FeedUrl(url=v, categories=self.categories) if isinstance(v, str)
                else FeedUrl(url=v.url, categories=self.categories if v.categories is None else v.categories)
                for v in self.urls]


class PostUrlsSource(Section):
    """Hexo post files fetched by URL: listed here and/or in a plain-text list (one URL a line) at list_url."""

    type: Literal["post_urls"]
    name: str
    urls: list[str] = Field(default_factory=list)
    list_url: str | None = None
    timezone: str | None = None  # zone for naive front-matter dates; default: the top-level one

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        return [_http_url(v) for v in value]

    @field_validator("list_url")
    @classmethod
    def _check_list_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @model_validator(mode="after")
    def _something_to_fetch(self) -> "PostUrlsSource":
        if not self.urls and not self.list_url:
            raise ValueError("give urls, list_url or both")
        return self


Source = Annotated[Union[HexoDirSource, FeedSource, PostUrlsSource], Field(discriminator="type")]


class RunnerConfig(Section):
    """How parse/clean work is spread: processes (default, one per core), threads, or a Dask cluster."""

    kind: Literal["threads", "processes", "dask"] = "processes"
    workers: int | None = Field(default=None, ge=1, le=256)
    dask_address: str | None = None


class DeploymentConfig(Section):
    """A scheduled run for `newsetl serve` / `prefect deploy`: a cron (with time zone) or an interval."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    cron: str | None = None                     # e.g. "0 2 * * *" (nightly at 02:00 in `timezone`)
    timezone: str = "UTC"
    interval: float | None = None               # seconds, or "15m", "12h"
    sources: list[str] | None = None            # subset of source names; default: all
    images: bool | None = None                  # override images.enabled for this deployment
    on_overlap: Literal["skip", "wait"] = "skip"  # when another run is writing the warehouse
    wait_seconds: float = 600                   # how long `wait` waits before giving up

    @field_validator("interval", "wait_seconds", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_zone(value)
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> "DeploymentConfig":
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron or interval")
        if self.interval is not None and self.interval < 1:
            raise ValueError("interval must be at least 1 second")
        return self


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One `allow_hosts` entry: an address or network, or a host name; with a port, that port only."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    name: str | None
    port: int | None  # None: every port


_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def parse_allow_entry(entry: str) -> AllowEntry:
    """`127.0.0.1`, `127.0.0.1:8765`, `10.0.0.0/8`, `[::1]:8765`, `intranet.example:443` ... or a ValueError."""
    text = entry.strip().lower()
    if not text:
        raise ValueError("empty entry in allow_hosts")
    host, port = text, None
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"allow_hosts: bad entry {text!r} (use [IPv6]:port)")
        port = rest[1:] if rest else None
    elif text.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host, _, port = text.partition(":")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"allow_hosts: bad port in {text!r}")
    number = int(port) if port is not None else None
    try:
        return AllowEntry(ipaddress.ip_network(host, strict=False), None, number)
    except ValueError:
        if "/" in host or ":" in host:
            raise ValueError(f"allow_hosts: bad network {text!r}") from None
    if not _HOST_NAME.match(host.rstrip(".")):  # also refuses numeric spellings such as 127.1 or 2130706433
        raise ValueError(f"allow_hosts: not an address, network or host name: {text!r}")
    return AllowEntry(None, host.rstrip("."), number)


def _check_allow_hosts(cls, value: list[str] | None) -> list[str] | None:
    """Each entry parses (`parse_allow_entry`); kept as written, lower-cased."""
    if value is None:
        return None
    for entry in value:
        parse_allow_entry(entry)
    return [entry.strip().lower() for entry in value]


class ImagesConfig(Section):
    """Image download, verification and storage settings (see the images section of the README)."""

    enabled: bool = True
    store: Path = Path("data/images")          # content-addressed store: <store>/ab/cd/<sha256>.<ext>
    # Network limits.
    concurrency: int = Field(default=64, ge=1, le=1024)       # requests in flight, all hosts together
    per_host: int = Field(default=16, ge=1, le=1024)          # requests in flight to one host
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=15.0, gt=0)           # between two reads of the body
    total_timeout: float = Field(default=60.0, gt=0)          # one whole request (redirects included)
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)    # bigger bodies are refused unread or cut off
    max_redirects: int = Field(default=5, ge=0, le=30)
    retries: int = Field(default=3, ge=0, le=20)              # extra tries in one run on timeouts, 429, 5xx
    backoff: float = Field(default=0.5, ge=0)                 # first retry delay, doubled each time, jittered
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_max: float = Field(default=120.0, ge=0)       # a longer Retry-After gives up for this run
    user_agent: str = "newsetl/0.1 (image fetcher)"
    http2: bool = False
    # Across runs.
    revalidate_after: float = 30 * 86400                      # seconds, or "12h", "30d"
    max_attempts: int = Field(default=3, ge=1, le=1000)       # runs that may try a failing URL
    # Verification and derivatives.
    min_width: int = Field(default=0, ge=0)                   # smaller images are skipped, not stored
    min_height: int = Field(default=0, ge=0)
    max_pixels: int = Field(default=100_000_000, ge=1)        # decompression-bomb guard
    thumbnails: dict[str, tuple[int, int]] = Field(default_factory=dict)  # name -> [max width, max height]
    skip_roles: list[str] = Field(default_factory=list)       # e.g. [promo, decoration]
    fsync: bool = False                                       # also survive power loss (slower)
    # Security: refuse loopback, private, link-local and reserved addresses unless allow-listed.
    block_private: bool = True
    allow_hosts: list[str] = Field(default_factory=list)      # host names, IPs or CIDRs, e.g. 127.0.0.1

    @field_validator("revalidate_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)

    @field_validator("thumbnails")
    @classmethod
    def _thumbnail_sizes(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (width, height) in value.items():
            if not re.fullmatch(r"[a-z0-9_-]{1,32}", name):
                raise ValueError(f"thumbnail name {name!r}: use 1-32 of a-z, 0-9, _ and -")
            if width < 1 or height < 1:
                raise ValueError(f"thumbnail {name!r}: width and height must be at least 1")
        return value

    _allow_entries = field_validator("allow_hosts")(_check_allow_hosts)


class ReportingConfig(Section):
    """Downstream reporting: duplicate stories, keywords and the HTML report (see the README's reporting part)."""

    enabled: bool = True                                       # refresh stories/keywords/search after each load
    dedup_threshold: float = Field(default=0.5, gt=0, le=1)   # estimated Jaccard similarity of shingle sets
    shingle_size: int = Field(default=5, ge=1, le=50)         # characters per shingle of the normalised text
    num_perm: int = Field(default=128, ge=16, le=1024)        # MinHash permutations
    min_chars: int = Field(default=30, ge=1)                  # shorter texts are never called duplicates
    top_keywords: int = Field(default=20, ge=1, le=200)       # terms in the report's keyword chart
    report_days: int = Field(default=30, ge=1, le=3650)       # latest days with articles in the report's chart
    report_runs: int = Field(default=10, ge=1, le=1000)       # latest runs listed in the report


class HttpConfig(Section):
    """HTTP policy for feeds and post files fetched by URL (images have their own limits in `images:`)."""

    user_agent: str = "newsetl/0.1 (feed reader)"
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=15.0, gt=0)
    total_timeout: float = Field(default=60.0, gt=0)          # one whole request, redirects included
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_redirects: int = Field(default=5, ge=0, le=30)
    retries: int = Field(default=3, ge=0, le=20)              # on timeouts, connection errors, 429 and 5xx
    backoff: float = Field(default=0.5, ge=0)                 # first retry delay, doubled each time, jittered
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_max: float = Field(default=120.0, ge=0)       # a longer Retry-After gives up for this run
    concurrency: int = Field(default=8, ge=1, le=256)
    # SSRF guard: unset means the same as the images section (one allow-list for the whole pipeline).
    block_private: bool | None = None
    allow_hosts: list[str] | None = None

    _allow_entries = field_validator("allow_hosts")(_check_allow_hosts)


class LimitsConfig(Section):
    """Bounded work per post file (see the README's "Input from the wild"): a post over a limit is a reject."""

    max_post_bytes: int = Field(default=8 * 1024 * 1024, ge=1)   # bigger files are refused unread (stat size)
    max_front_matter_bytes: int = Field(default=256 * 1024, ge=1)
    max_yaml_nodes: int = Field(default=10_000, ge=1)      # front-matter nodes with every alias expanded
    max_yaml_depth: int = Field(default=64, ge=1)          # nesting of front-matter lists and mappings
    max_html_elements: int = Field(default=50_000, ge=1)   # elements in a body; cleaning costs ~10-60 us each
    max_html_depth: int = Field(default=200, ge=8, le=1000)  # deeper elements are flattened, their text kept
    post_seconds: float = Field(default=10.0, gt=0)        # a post whose read, parse or clean step takes longer


class Config(Section):
    """The whole configuration file."""

    warehouse: Path = Path(DEFAULT_WAREHOUSE)
    timezone: str = "UTC"
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    encodings: list[str] = Field(default_factory=lambda: ["utf-8"])
    rules: Path | None = None  # site cleaning rules; default: the bundled newsetl/site_rules.yaml
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    reporting: ReportingConfig = Field(default_factory=ReportingConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    sources: list[Source] = Field(default_factory=list)
    deployments: list[DeploymentConfig] = Field(default_factory=list)  # schedules for `newsetl serve`
    lock_wait: float = Field(default=600, ge=0)  # seconds a run waits while another run writes the warehouse
    rehash: bool = False  # hash every post file, not only those whose size/mtime/inode changed
    # DuckDB's cache, and what it keeps of the appended rows between checkpoints (256 MB: 100k posts' load peak
    # 1,084-1,091 -> 833-887 MB against 512 MB, CPU within noise)
    memory_limit: str | None = Field(default="256MB", pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$")
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        check_zone(value)
        return value

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, value: list[str]) -> list[str]:
        import codecs

        for name in value:
            try:
                codecs.lookup(name)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {name!r}") from exc
        return value

    def resolve(self, path: Path) -> Path:
        """A config path made absolute against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def remote_sources(self) -> list[FeedSource | PostUrlsSource]:
        """The feed and post_urls sources (fetched over HTTP), in their order."""
        return [s for s in self.sources if isinstance(s, (FeedSource, PostUrlsSource))]

    def source_zones(self, sources: list | None = None) -> dict[str, ZoneInfo]:
        """Each source's time zone (its own `timezone`, else the config's), by source name."""
        return {s.name: check_zone(getattr(s, "timezone", None) or self.timezone)
                for s in (self.sources if sources is None else sources)}

    def site_rules(self) -> "SiteRules":
        """The cleaning rules this config names (`rules:`), or the bundled ones: load once per run."""
        from newsetl.rules import load_rules

        return load_rules(self.resolve(self.rules) if self.rules else None)


def check_zone(name: str) -> ZoneInfo:
    """The ZoneInfo for `name`, or a ValueError that names it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    """Up to three problems in one line, e.g. `newsetl.yaml: sources.0.nam: unknown key; ...`."""
    tags = {"hexo_dir", "feed", "post_urls"}  # pydantic puts the union member's tag in the location
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"] if p not in tags) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"{origin}: {'; '.join(problems)}{more}"


def load_config(path: Path | None = None, *, required: bool = False,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; with no path, use ./newsetl.yaml if present, else defaults.

    `environ` (the CLI passes os.environ) overrides file values with `NEWSETL_*` variables (see `env_overrides`).
    """
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        if not candidate.exists():
            if required:
                raise ConfigError(f"no {DEFAULT_CONFIG_NAME} here; pass --config FILE")
            return config_from_dict({}, base_dir=Path.cwd(), origin="defaults", environ=environ)
        path = candidate
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return config_from_dict(data, base_dir=path.resolve().parent, origin=str(path), environ=environ)


ENV_PREFIX = "NEWSETL_"
ENV_NOT_SETTINGS = {"NEWSETL_HOME",  # read by prefect.yaml, not a setting
                    "NEWSETL_TIMELINE",  # newsetl/runtime/timeline.py: where a bench wants start-up stamps
                    "NEWSETL_FIND_PREFECT_SERVER"}  # newsetl/runtime/local_server.py: 0 never uses a running one
_ENV_PATHS = (("warehouse",), ("rules",), ("images", "store"))  # relative values: relative to the working dir


def env_overrides(environ: Mapping[str, str]) -> dict:
    """`NEWSETL_*` variables as a config mapping (pydantic-settings): `NEWSETL_IMAGES__ENABLED=false` ->
    {"images": {"enabled": "false"}}; lists and mappings as JSON. An unknown top-level name is an error."""
    from pydantic_settings import BaseSettings, SettingsConfigDict

    fields = set(Config.model_fields) - {"base_dir"}
    unknown = sorted(name for name in environ if name.upper().startswith(ENV_PREFIX)
                     and name.upper() not in ENV_NOT_SETTINGS
                     and name[len(ENV_PREFIX):].split("__")[0].lower() not in fields)
    if unknown:
        raise ConfigError(f"environment: unknown setting {unknown[0]} (settings: "
                          f"{', '.join(ENV_PREFIX + f.upper() for f in sorted(fields))})")

    class _FromEnv(BaseSettings, Config):
        model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    try:
        values = _env_source(_FromEnv, environ)
    except Exception as exc:  # pydantic_settings.SettingsError: e.g. a list that is not JSON
        raise ConfigError(f"environment: {exc}") from None
    values.pop("base_dir", None)
    cwd = Path.cwd()
    for keys in _ENV_PATHS:
        holder = values
        for key in keys[:-1]:
            holder = holder.get(key) if isinstance(holder.get(key), dict) else {}
        if isinstance(holder.get(keys[-1]), str) and holder[keys[-1]]:
            holder[keys[-1]] = str(cwd / Path(holder[keys[-1]]).expanduser())
    return values


def _env_source(settings_cls: type, environ: Mapping[str, str]) -> dict:
    """EnvSettingsSource over `environ` instead of os.environ."""
    from pydantic_settings import EnvSettingsSource

    source = EnvSettingsSource(settings_cls)
    source.env_vars = {k.lower(): v for k, v in environ.items()}
    return source()


def _merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`, mapping by mapping (the environment's `images.enabled` keeps the file's `images.store`)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def config_from_dict(data: dict, *, base_dir: Path, origin: str = "config",
                     environ: Mapping[str, str] | None = None) -> Config:
    """Validate a config mapping (as read from YAML), with `NEWSETL_*` overrides from `environ` if given."""
    overrides = env_overrides(environ) if environ is not None else {}
    if overrides:
        data = _merge(data, overrides)
        origin = f"{origin} + NEWSETL_* environment"
    try:
        config = Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None
    names = config.source_names()
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: sources: duplicate source name {duplicates[0]!r}")
    for deployment in config.deployments:
        unknown = sorted(set(deployment.sources or []) - set(names))
        if unknown:
            raise ConfigError(f"{origin}: deployments: {deployment.name}: unknown source {unknown[0]!r}")
    return config
