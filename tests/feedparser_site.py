"""feedparser's own test suite served from 127.0.0.1 the way its harness (`tests/runtests.py`) serves it.

- A file declares its response headers in `Header: Name: value` comment lines (`Status:` sets the status);
  the harness's fixed `localhost:8097` in a `Location` becomes this server's address.
- `compression/*` files are sent with `Content-Encoding: gzip` (name ends in `gz`) or `deflate`, and
  `Content-type: application/xml`, whether or not the body really is compressed.
- Otherwise `Content-type` is guessed from the file name; a matching `If-None-Match` /
  `If-Modified-Since` gets 304.

Used by tests/test_feeds_wild.py (the vendored sample) and bench/feedparser_suite.py (the whole sdist suite).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HEADER_RE = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
SUITE_DIRS = ("compression", "encoding", "entities", "http", "illformed", "wellformed")


def declared_headers(path: Path, data: bytes) -> dict[str, str]:
    """The response headers feedparser's harness sends for the file at `path`."""
    if path.parent.name == "compression":
        return {"Content-Encoding": "gzip" if path.name.endswith("gz") else "deflate",
                "Content-type": "application/xml"}
    return {k.decode("utf-8").strip(): v.decode("utf-8").strip() for k, v in HEADER_RE.findall(data)}


def suite_files(tests_dir: Path) -> list[Path]:
    """Every feed file of a feedparser `tests/` directory, in a stable order."""
    return sorted(p for d in SUITE_DIRS for p in (tests_dir / d).rglob("*") if p.is_file())


class _Handler(SimpleHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = (self.server.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
        if self.server.root not in path.parents or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        headers = declared_headers(path, data)
        status = int(headers.pop("Status", 200))
        if (self.headers.get("If-None-Match") and self.headers.get("If-None-Match") == headers.get("ETag")) or \
                (self.headers.get("If-Modified-Since") and
                 self.headers.get("If-Modified-Since") == headers.get("Last-Modified")):
            status = 304
        self.send_response(status)
        self.send_header("Content-type", headers.pop("Content-type", None) or self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value.replace("localhost:8097", f"127.0.0.1:{self.server.server_port}"))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path


@dataclass
class SuiteSite:
    """A running server for the directory holding `tests/`; `url(path)` gives a file's address."""

    root: Path
    server: _Server
    thread: threading.Thread

    @classmethod
    def start(cls, root: Path) -> "SuiteSite":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.root = root.resolve()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        return cls(root.resolve(), server, thread)

    def url(self, path: Path) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{path.resolve().relative_to(self.root).as_posix()}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
