"""A Prefect server already running on this machine as this user: found, so a command starts none (issue 15).

`prefect server start` listens on 127.0.0.1:4200 (or `PREFECT_SERVER_API_HOST` / `PREFECT_SERVER_API_PORT`).
When no API is configured, a command that runs flows looks there first and, if it finds a server it can trust,
uses it as if `PREFECT_API_URL` named it: no private API to boot (most of a no-op rerun's wall time), and
the runs show in that server's UI (the summary's "Prefect flow run:" link). It uses the server only when all
of these hold, and otherwise starts its private API as before (newsetl/runtime/prefect_server.py):

- finding is on: `NEWSETL_FIND_PREFECT_SERVER` is not `0`, `false`, `no` or `off`;
- the configured host is this machine (127.0.0.1, localhost, or every address), never a remote host;
- Linux's socket tables (/proc/net/tcp, tcp6) show a listener on the port that 127.0.0.1 reaches, and every
  such listener belongs to this user: flow runs carry paths, parameters and logs, which another user's
  process on that port must not get. Without those tables (other systems) nothing is used;
- `/api/health` answers `true` within `PROBE_SECONDS`;
- `/api/admin/version` is Prefect's major version and not older than this Prefect (Prefect refuses another
  major and warns on an older server).

When a server is there but not used (another user's, another version), `passed_over` says why, in one line.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterable

from newsetl.runtime.prefect_settings import server_address

SWITCH = "NEWSETL_FIND_PREFECT_SERVER"
OFF = frozenset({"0", "false", "no", "off"})
PROBE_SECONDS = 0.5
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""})
SOCKET_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN = "0A"  # the kernel's TCP_LISTEN state, as the tables write it
# Local addresses, as the tables write them, whose listener a connection to 127.0.0.1 reaches: 127.0.0.1 and
# 0.0.0.0, and in tcp6 `::` (dual-stack) and ::ffff:127.0.0.1.
_REACHED = frozenset({"0100007F", "00000000", "0" * 32, "0000000000000000FFFF00000100007F"})

passed_over: str | None = None  # why a server found on the port was not used (None: none was passed over)


def find_running_server() -> str | None:
    """The API URL of a trusted Prefect server running on this machine (see the module docstring), or None."""
    global passed_over
    passed_over = None
    if os.environ.get(SWITCH, "").strip().lower() in OFF:
        return None
    host, port = server_address()
    if host.strip("[]").lower() not in LOCAL_HOSTS or port is None:
        return None
    owners = listener_owners(port, _read_tables(SOCKET_TABLES))
    if not owners:  # nothing listens there (or this system has no socket tables)
        return None
    where = f"127.0.0.1:{port}"
    if owners != {os.getuid()}:
        passed_over = f"not using the Prefect server port {where}: it belongs to another user"
        return None
    if _get(port, "/api/health") != b"true":
        return None
    server = _version(_get(port, "/api/admin/version"))
    client = prefect_version()
    if server is None or not usable_version(server, client):
        passed_over = (f"not using the Prefect server on {where}: it runs Prefect {server or '(unknown)'}, this "
                       f"newsetl Prefect {client}")
        return None
    return f"http://{where}/api"


def listener_owners(port: int, tables: Iterable[str]) -> set[int]:
    """The uids owning the sockets that listen on `port` where 127.0.0.1 reaches them, from the text of the
    kernel's socket tables (/proc/net/tcp's format)."""
    owners = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8 or fields[3] != _LISTEN:
                continue
            address, _, hex_port = fields[1].rpartition(":")
            try:
                if int(hex_port, 16) == port and address.upper() in _REACHED:
                    owners.add(int(fields[7]))
            except ValueError:
                continue
    return owners


def usable_version(server: str, client: str) -> bool:
    """Whether a server of Prefect `server` serves a client of Prefect `client` without Prefect's complaint."""
    from packaging.version import InvalidVersion, Version

    try:
        ours, theirs = Version(client), Version(server)
    except InvalidVersion:
        return False
    return theirs.major == ours.major and theirs >= ours


def _read_tables(paths: Iterable[str]) -> list[str]:
    tables = []
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                tables.append(handle.read())
        except OSError:
            continue
    return tables


def _get(port: int, path: str) -> bytes | None:
    """The body of a 200 answer to GET `path` on 127.0.0.1:`port` (None: no answer in time, or not 200).
    http.client, not urllib: no proxy from the environment is ever asked for a loopback address."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_SECONDS)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(4096)
        return body.strip() if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _version(body: bytes | None) -> str | None:
    try:
        value = json.loads(body) if body else None
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def prefect_version() -> str:
    """The installed Prefect's version (read only when a server was found: ~25 ms)."""
    from importlib.metadata import version

    return version("prefect")
