"""The Prefect settings a command needs before it imports Prefect (~1 s): read from where Prefect reads them.

Precedence, as Prefect's: the environment, then ./prefect.toml, then the active profile of
`$PREFECT_HOME/profiles.toml` (or `PREFECT_PROFILES_PATH`). After Prefect was imported in this process (tests,
notebooks), Prefect itself is asked.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

DEFAULT_SERVER_HOST = "127.0.0.1"  # what `prefect server start` listens on by default
DEFAULT_SERVER_PORT = 4200


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()


def configured_api_url() -> str | None:
    """The API URL Prefect would use from its configuration (None: none set)."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    settings = sys.modules.get("prefect.settings")
    if settings is not None:  # in-process use after Prefect was imported (tests, notebooks): ask Prefect itself
        return settings.PREFECT_API_URL.value() or None
    value = _setting("PREFECT_API_URL", ("api", "url"))
    return str(value) if value else None


def server_address() -> tuple[str, int | None]:
    """(host, port) where `prefect server start` listens with this configuration (port None: not a number)."""
    host = _setting("PREFECT_SERVER_API_HOST", ("server", "api", "host")) or DEFAULT_SERVER_HOST
    port = _setting("PREFECT_SERVER_API_PORT", ("server", "api", "port")) or DEFAULT_SERVER_PORT
    try:
        return str(host), int(port)
    except (TypeError, ValueError):
        return str(host), None


def _setting(name: str, toml_keys: tuple[str, ...]):
    """A setting's value: the environment, ./prefect.toml (`toml_keys`), then the active profile (None: unset)."""
    if os.environ.get(name):
        return os.environ[name]
    local = _toml(Path("prefect.toml"))
    for key in toml_keys:
        local = local.get(key) if isinstance(local, dict) else None
    if local not in (None, "", {}):
        return local
    profiles = _toml(Path(os.environ.get("PREFECT_PROFILES_PATH", prefect_home() / "profiles.toml")).expanduser())
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    profile = profiles.get("profiles", {}).get(active, {})
    return (profile.get(name) or None) if isinstance(profile, dict) else None


def _toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
