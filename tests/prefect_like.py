"""A small HTTP server on 127.0.0.1 answering Prefect's /api/health and /api/admin/version as `prefect server
start` does (tests of newsetl/runtime/local_server.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PrefectLike(ThreadingHTTPServer):
    """Answers GET /api/health and /api/admin/version as Prefect's server does; counts the requests."""

    def __init__(self, version: str, healthy: bool = True) -> None:
        self.version, self.healthy, self.requests = version, healthy, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                bodies = {"/api/health": json.dumps(outer.healthy), "/api/admin/version": json.dumps(outer.version)}
                body = bodies.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write((body or "{}").encode())

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    @property
    def port(self) -> int:
        return self.server_address[1]

