"""A real HTTP/1.1 server on 127.0.0.1 for image tests: scripted responses and every fault.

Runs an asyncio server in a background thread. Each path has a list of `Reply`s, used in turn (the last
one repeats), so "500 then 200" is `[Reply(500), Reply(200, body=png)]`. Faults: delays, bodies cut short
of their Content-Length, bodies dripped slowly, conditional replies (ETag / Last-Modified -> 304).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http import HTTPStatus


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "image/png"
    delay: float = 0.0              # seconds before the status line
    truncate_to: int | None = None  # send only this many body bytes, then close (Content-Length stays full)
    drip: float = 0.0               # seconds between 1 KiB chunks of the body
    etag: str | None = None         # answer 304 when If-None-Match matches
    last_modified: str | None = None
    close: bool = False
    chunked: bool = False           # Transfer-Encoding: chunked, no Content-Length


class ImageServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = defaultdict(int)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    # -- public -------------------------------------------------------------------------------------------

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "ImageServer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- server -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                path = target.split("?", 1)[0]
                self.requests.append((target, headers))
                replies = self.routes.get(path) or self.routes.get(target)
                index = self.hits[path]
                self.hits[path] += 1
                if not replies:
                    reply = Reply(404, b"<html><body>not found</body></html>", content_type="text/html")
                else:
                    reply = replies[min(index, len(replies) - 1)]
                if not await self._respond(writer, reply, headers, method):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, reply: Reply, req: dict[str, str], method: str) -> bool:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        status, body = reply.status, reply.body
        extra = dict(reply.headers)
        if reply.etag:
            extra["ETag"] = reply.etag
        if reply.last_modified:
            extra["Last-Modified"] = reply.last_modified
        if status == 200 and (
            (reply.etag and req.get("if-none-match") == reply.etag)
            or (reply.last_modified and req.get("if-modified-since") == reply.last_modified)
        ):
            status, body = 304, b""
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        head = [f"HTTP/1.1 {status} {phrase}"]
        if reply.content_type and status != 304:
            head.append(f"Content-Type: {reply.content_type}")
        if reply.chunked:
            head.append("Transfer-Encoding: chunked")
        elif status != 304:
            head.append(f"Content-Length: {len(body)}")
        head += [f"{k}: {v}" for k, v in extra.items()]
        if reply.close or reply.truncate_to is not None:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD" and status != 304:
            send = body if reply.truncate_to is None else body[: reply.truncate_to]
            if reply.chunked:
                for start in range(0, len(send), 4096):
                    piece = send[start:start + 4096]
                    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                writer.write(b"0\r\n\r\n")
            elif reply.drip:
                for start in range(0, len(send), 1024):
                    writer.write(send[start:start + 1024])
                    await writer.drain()
                    await asyncio.sleep(reply.drip)
            else:
                writer.write(send)
        await writer.drain()
        return not (reply.close or reply.truncate_to is not None)
