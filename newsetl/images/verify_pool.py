"""Verify and store image bodies in verifier processes, so the flow process keeps its core for HTTP.

Why processes: the fetcher's event loop is the critical path, and Python code holds the GIL. When decoding
ran on threads of the flow process, every socket call of the event loop (which releases the GIL) could wait
up to a switch interval for a decoding thread to give it back: a profile of 3,000 downloads showed the event
loop spending more time getting the GIL back in `epoll.unregister`, `send` and `recv` than in the HTTP client.

How: each verifier is a plain `python -c` child (Pillow and hashlib only, see `newsetl.images.keep`) joined to
the flow process by a socket pair. The event loop writes `(job id, length, body)` frames and reads pickled
answers (`StoredImage` or `Rejected`) on the same loop: no extra thread in the flow process. A body goes to
the verifier picked by its length and first and last bytes, so identical bytes always meet the same verifier,
whose store serialises writers of one file: "stored once" and `new_file` stay exact. Until the verifiers are
ready, bodies are verified on threads instead of waiting (and so are later bodies with the same bytes).

A verifier that dies fails the bodies it held (reason `internal`, retried on a later run); the fetcher verifies
the rest on its threads. A verifier ends when its socket closes, so it cannot outlive the flow process.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from newsetl.images.keep import KeepRules, Rejected, StoredImage, keep
from newsetl.images.store import ImageStore

HEADER = struct.Struct("!IQ")   # job id, payload length
THREADS = 4                     # keep() calls in flight in one verifier (see `serve`)
CLOSE_TIMEOUT = 5.0             # seconds for a verifier to exit after its socket closed, then it is killed
# os._exit: everything is written and answered when serve() returns; skip ~80 ms of interpreter teardown.
_CHILD = "import os, sys; from newsetl.images.verify_pool import serve; serve(int(sys.argv[1])); os._exit(0)"


class VerifierGone(Exception):
    """The verifier process holding a body ended before it answered.

    `started` is False when it never got ready (it could not start: not the body's fault, verify it elsewhere).
    """

    def __init__(self, message: str, *, started: bool) -> None:
        super().__init__(message)
        self.started = started


def default_processes() -> int:
    """One verifier per core the flow process does not need for its event loop (at least one, at most four)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores - 1))


class VerifyPool:
    """`processes` verifier processes; `await pool.keep(data)` is `keep.keep(data, rules, store)` in one of them."""

    def __init__(self, rules: KeepRules, store_root: Path, *, fsync: bool, processes: int) -> None:
        self._setup = pickle.dumps((rules, str(store_root), fsync))
        self._count = max(1, processes)
        self._verifiers: list[_Verifier] = []
        self._on_threads: set[int] = set()  # content keys verified on threads (see `route`)

    @property
    def alive(self) -> bool:
        """True while every verifier is running (after one dies the fetcher verifies on its threads)."""
        return bool(self._verifiers) and all(v.alive for v in self._verifiers)

    async def start(self) -> None:
        """Start the verifiers; their first answer comes once they have imported Pillow."""
        for _ in range(self._count):
            verifier = _Verifier()
            await verifier.start(self._setup)
            self._verifiers.append(verifier)

    @property
    def ready(self) -> bool:
        """True once every verifier has started (imported Pillow and opened the store)."""
        return bool(self._verifiers) and all(v.ready for v in self._verifiers)

    def route(self, data: bytes) -> int | None:
        """The key to `keep` `data` under, or None: verify it on a thread instead.

        While the verifiers start (~0.2 s) bodies go to threads rather than wait, and later bodies with the same
        key follow them there: identical bytes always meet one store, so `new_file` stays exact.
        """
        key = hash((len(data), data[:64], data[-64:]))
        if not self.ready:
            self._on_threads.add(key)
            return None
        return None if key in self._on_threads else key

    async def keep(self, data: bytes, key: int) -> StoredImage:
        """Verify and store `data` in the verifier process for `key` (`route`). Raises `Rejected` or
        `VerifierGone`."""
        return await self._verifiers[key % len(self._verifiers)].call(data)

    async def close(self) -> None:
        for verifier in self._verifiers:
            await verifier.close()
        self._verifiers.clear()


class _Verifier:
    """One verifier process and its socket, driven from the event loop."""

    def __init__(self) -> None:
        self.alive = False
        self.ready = False              # answered its set-up frame: Pillow imported, store open
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._process: subprocess.Popen | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None

    async def start(self, setup: bytes) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding `newsetl/`
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env,
                stdin=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        self.alive = True
        self._reading = asyncio.create_task(self._read(reader))
        self._writer.write(HEADER.pack(0, len(setup)) + setup)  # job 0: the rules and the store

    async def call(self, data: bytes) -> StoredImage:
        if not self.alive or self._writer is None:
            raise VerifierGone("image verifier process is not running", started=self.ready)
        job = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[job] = answer
        self._writer.write(HEADER.pack(job, len(data)) + data)  # one send, not two (a copy costs less)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass  # the reader sees the end too and fails what is pending, this body included
        result = await answer
        if isinstance(result, StoredImage):
            return result
        if isinstance(result, Rejected):
            raise result
        raise RuntimeError(str(result))  # an unexpected error inside the verifier, as text

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                job, size = HEADER.unpack(await reader.readexactly(HEADER.size))
                result = pickle.loads(await reader.readexactly(size))  # noqa: S301 - our own child's answer
                if job == 0:
                    self.ready = True
                    continue
                answer = self._pending.pop(job, None)
                if answer is not None and not answer.done():
                    answer.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.alive = False
            code = self._process.poll() if self._process else None
            gone = VerifierGone(f"image verifier process ended (exit code {code})" if code is not None
                                else "image verifier process stopped answering", started=self.ready)
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(gone)
            self._pending.clear()

    async def close(self) -> None:
        """Close the socket (the verifier finishes what it holds and exits); kill it after CLOSE_TIMEOUT."""
        self.alive = False
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        process = self._process
        if process is not None:
            for _ in range(int(CLOSE_TIMEOUT / 0.005)):
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.005)
            else:
                process.kill()
                await asyncio.get_running_loop().run_in_executor(None, process.wait)
        if self._reading is not None:
            await self._reading  # the socket's far end is closed now: the reader ends, failing what was held


# -- the verifier process ----------------------------------------------------------------------------------

def serve(fd: int) -> None:
    """A verifier's loop: frame in, `keep` on one of THREADS threads, answer out, until the socket closes.

    Threads, because creating a file and its folders waits on the file system (on this machine's ext4 a new
    image took 1.3 ms of wall time for 0.5 ms of CPU): one at a time, writing would be the bottleneck.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the flow process's to handle; we end with it
    sock = socket.socket(fileno=fd)
    stream = sock.makefile("rb", buffering=1 << 20)
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return
    rules, root, fsync = pickle.loads(stream.read(HEADER.unpack(head)[1]))  # noqa: S301 - from our parent
    store = ImageStore(Path(root), fsync=fsync)
    sending = threading.Lock()

    def answer(job: int, result: object) -> None:
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with sending:
            sock.sendall(HEADER.pack(job, len(blob)) + blob)

    def one(job: int, data: bytes) -> None:
        try:
            result: object = keep(data, rules, store)
        except Rejected as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001 - a bug must fail this body, not the verifier
            result = f"{type(exc).__name__}: {exc}"
        try:
            answer(job, result)
        except OSError:
            pass  # the flow process is gone; the reading loop ends too

    answer(0, "ready")
    with ThreadPoolExecutor(max_workers=THREADS) as threads:
        while True:
            head = stream.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            job, size = HEADER.unpack(head)
            data = stream.read(size)
            if len(data) < size:
                return
            threads.submit(one, job, data)
