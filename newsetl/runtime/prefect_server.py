"""The Prefect API a newsetl command talks to: a configured one, or a private server that dies with us.

Without a configured API, Prefect starts an ephemeral server itself, in a subprocess that outlives the
newsetl process on `kill -9` (issue 11 measured 20 orphans in 23 kills, one of them burning CPU). It also
starts it late: only after the command has imported Prefect and its server module (~3 s on 2 cores) and
the flow makes its first call. `start_private_api` instead starts the same server (Prefect's
`create_app`, under uvicorn, UI off, ephemeral services) the moment a command that runs flows begins:

- it boots while the command imports Prefect, DuckDB and the flow modules, on the other core;
- the command never imports `prefect.server` (Prefect's client sees `PREFECT_API_URL` and connects);
- the server cannot outlive the newsetl process: on Linux the kernel kills it when its parent dies
  (`PR_SET_PDEATHSIG`, set in the child before it imports anything), and a watchdog thread in the child
  exits when its parent changes (every platform, and the case where the parent died before the prctl);
  on a normal exit `stop` ends it (atexit, after Prefect's own exit handlers have flushed their logs).

A configured API is reused and nothing is started: `PREFECT_API_URL` in the environment, `[api] url` in
./prefect.toml, or the active profile's `PREFECT_API_URL` (newsetl/runtime/prefect_settings.py). So is a
`prefect server start` running on this machine as this user, found on its port (newsetl/runtime/local_server.py).

Run as `python -m newsetl.runtime.prefect_server PORT PARENT_PID` this module is the server process.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from newsetl.errors import NewsetlError
from newsetl.runtime.local_server import find_running_server
from newsetl.runtime.prefect_settings import configured_api_url, prefect_home
from newsetl.runtime.timeline import flush, mark

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_SECONDS = 0.5
STOP_POLL_SECONDS = 0.005  # the server's polls while it stops (uvicorn's own: 0.1 s)
READY_POLL_SECONDS = 0.02  # how often a starting server is asked whether it answers
# The least time the server serves before its services are stopped: Prefect's docket worker stopped within its
# first moments hangs ~5 s (then the 5 s grace ends in a kill): 3 of 12 stops right after /health answered,
# 0 of 12 at 0.1 s, 0 of 8 at 0.2 s and at 0.4 s (07:29 UTC, load 3-4). A no-op run stops its API ~0.8 s after
# it serves, so 1 s (the old value) made it wait ~0.2 s.
SETTLE_SECONDS = 0.4
DRAIN_SECONDS = 2.0  # the longest the server waits for its services to take the messages they were sent
PORT_IN_USE = 3  # the server's exit code when someone took its port between our check and its bind


class PrefectApiError(NewsetlError):
    """The private Prefect API did not come up."""

    exit_code = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateApi:
    """A Prefect API server process owned by this process (see the module docstring)."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()
        self._ready = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.port = _free_port()
        # Not PREFECT__SERVER_FINAL (what Prefect's own ephemeral server sets): with FastAPI >= 0.137 all it does is
        # a full gc.collect() after the routers are included, 0.25-0.3 s on the no-op's critical path.
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
        env.pop("PREFECT_API_URL", None)
        # Prefect skips registering its block types at start-up when a hash of them and of the database URL
        # matches the one in its memo store. That store is one value shared by every server started with this
        # PREFECT_HOME; Prefect's test harness (a temporary database) overwrites it, and the next private API
        # then registered every block type again (1-2 s). The private API keeps its own memo.
        env.setdefault("PREFECT_MEMO_STORE_PATH", str(prefect_home() / "memo_store.newsetl-private-api.toml"))
        # Started from this (the main) thread: PR_SET_PDEATHSIG fires when the thread that forked exits.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsetl.runtime.prefect_server", str(self.port), str(os.getpid())],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)

    def wait_ready(self, timeout: float) -> None:
        """Block until the API answers /health; a clear error if the server exits or never answers."""
        deadline = time.monotonic() + timeout
        while not self._ready:
            code = self.process.poll()
            if code == PORT_IN_USE:
                self.start()
                continue
            if code is not None:
                raise PrefectApiError(f"the Prefect API server exited with code {code}: {self._stderr_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    self._ready = response.status == 200
            except OSError:
                pass
            if self._ready:
                threading.Thread(target=self._warm, name="api-warm-up", daemon=True).start()
            else:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PrefectApiError(f"the Prefect API server did not answer within {timeout:g} s")
                time.sleep(READY_POLL_SECONDS)

    def _warm(self) -> None:
        """Make the fresh server build its routes now, while this process sets up its flow run.

        The server's first request other than /health builds the state of all its ~180 routes (FastAPI,
        ~0.2 s on this machine); made here, right after /health answered, that work overlaps the command's
        own until its first real request (the flow run's creation).
        """
        try:
            with urllib.request.urlopen(f"{self.api_url}/admin/version", timeout=30) as response:
                response.read()
        except OSError:
            pass

    def stop(self) -> None:
        """Ask the server to stop (SIGTERM), then kill it if it has not within 5 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        mark("api stop")
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        mark("api stopped")

    def _stderr_tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"


_api: PrivateApi | None = None


def start_private_api() -> PrivateApi | None:
    """Start a private API for this process unless one is configured, a trusted one runs on this machine
    (`api_in_place`), or one was started already; see the module docstring. Sets `PREFECT_API_URL` for
    Prefect (imported after this), so call it before importing Prefect.
    """
    global _api
    if _api is not None:
        return _api
    if api_in_place():
        return None
    _api = PrivateApi()
    _api.start()
    mark("api server started")
    os.environ["PREFECT_API_URL"] = _api.api_url
    atexit.register(_api.stop)  # registered before Prefect's handlers, so it runs after them
    return _api


def api_in_place() -> bool:
    """Whether a Prefect API needs no start: one is configured, or one runs on this machine as this user
    (newsetl/runtime/local_server.py), which Prefect (imported after this) is then pointed at."""
    if configured_api_url() is not None:
        return True
    running = find_running_server()
    if running is None:
        return False
    os.environ["PREFECT_API_URL"] = running
    mark("api found running")
    return True


def is_private_api() -> bool:
    """True when this process runs on its own private API (which stops with it): nothing worth linking to."""
    return _api is not None and os.environ.get("PREFECT_API_URL") == _api.api_url


def wait_for_private_api(timeout: float | None = None) -> None:
    """Block until the private API (if this process started one) answers."""
    if _api is not None:
        _api.wait_ready(timeout if timeout is not None else
                        float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 180)))


# ------------------------------------------------------------------------------ the server process
def _die_with_parent(parent: int) -> None:
    """Make sure this process ends when `parent` does, however it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(0)

    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(0)
    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def _serve(port: int, parent: int) -> None:
    _die_with_parent(parent)
    import uvicorn

    config = uvicorn.Config(_app, factory=True, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    try:
        server = _quick_stop_server(config)
        server.run()
        if not server.started:  # as uvicorn.run
            sys.exit(1)
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind: tell the parent to pick another port
        if exc.code == 1 and not _port_free(port):
            sys.exit(PORT_IN_USE)
        raise


def _app():
    """Prefect's server app (UI off, ephemeral services: the environment `PrivateApi.start` sets), with the
    routers a flow run calls first in its route list (`_routers_in_call_order`).

    Runs only in the server process; Prefect's server is imported by name there (as uvicorn imported
    "prefect.server.api.server:create_app" before), so the library layer itself never imports Prefect.
    """
    server = importlib.import_module("prefect.server.api.server")

    mark("server: imported")
    server.API_ROUTERS = _routers_in_call_order(server.API_ROUTERS, importlib.import_module("prefect.server.api"))
    app = server.create_app()
    mark("server: app built")
    global _app_built
    _app_built = True
    return app


_app_built = False  # set once Prefect's app exists; its lifespan (database migrations, services) comes after


# What a flow run asks its API for (every request of a no-op ingest, in order: admin/version, admin/storage,
# csrf-token, flows, flow_runs, logs, artifacts, the events websocket), then what other runs may read.
FIRST_ROUTERS = ("admin", "flows", "flow_runs", "logs", "artifacts", "csrf_token", "events", "task_runs",
                 "flow_run_states", "task_run_states")


def _routers_in_call_order(routers: tuple, api) -> tuple:
    """Prefect's routers, those in FIRST_ROUTERS first, the others after them in their order.

    FastAPI (>= 0.137) builds a router's route state (~180 routes, ~0.3 s on this machine) when a request is
    first matched against it, and it tries routers in order: Prefect lists the admin router (the client's first
    request, its version check) 29th of 30, so that request built nearly all of them, while the command
    waited. Every router stays; their paths are disjoint, so the order changes no answer. `api` is the
    package `prefect.server.api`.
    """
    first = []
    for name in FIRST_ROUTERS:
        router = getattr(getattr(api, name, None), "router", None)
        if router is not None and router in routers:
            first.append(router)
    return (*first, *(router for router in routers if router not in first))


def _quick_stop_server(config):
    """uvicorn's Server, stopping as soon as it is asked (SIGTERM from `PrivateApi.stop`).

    uvicorn notices a stop request on a 0.1 s tick, then waits a fixed 0.1 s after asking open connections
    to close and polls connections and tasks every 0.1 s: 0.15-0.27 s of each command's exit went to these
    sleeps. Here the signal wakes the main loop at once and the waits poll every STOP_POLL_SECONDS; the steps
    are uvicorn's, in its order: stop accepting, shut connections down, let them and the running requests
    finish (within `timeout_graceful_shutdown`), then the app's lifespan shutdown (Prefect stops its services
    and flushes what they hold).
    """
    import asyncio

    import uvicorn

    class QuickStopServer(uvicorn.Server):
        _wake: asyncio.Event | None = None
        _loop: asyncio.AbstractEventLoop | None = None
        _up_since = 0.0

        def handle_exit(self, sig: int, frame) -> None:
            if not _app_built:
                # uvicorn catches the signal before it imports the app (~2 s of Prefect's imports), so a
                # command that ended early (a usage or configuration error) waited that long for its stop.
                # Nothing has been served or written yet: end now, by the signal, as before the app loads.
                signal.signal(sig, signal.SIG_DFL)
                os.kill(os.getpid(), sig)
                return
            super().handle_exit(sig, frame)
            if self._loop is not None and self._wake is not None:
                self._loop.call_soon_threadsafe(self._wake.set)

        async def main_loop(self) -> None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
            self._up_since = self._loop.time()
            mark("server: serving")
            gc.freeze()  # see the end of this module
            gc.enable()
            counter = 0
            while not await self.on_tick(counter):  # on_tick: uvicorn's once-a-tick upkeep and exit check
                counter = (counter + 1) % 864000
                try:
                    await asyncio.wait_for(self._wake.wait(), 0.1)
                except asyncio.TimeoutError:
                    pass

        async def shutdown(self, sockets=None) -> None:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()
            try:
                await asyncio.wait_for(self._drained(), timeout=self.config.timeout_graceful_shutdown)
            except asyncio.TimeoutError:
                for task in self.server_state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
            if not self.force_exit:
                # Prefect's background worker (docket) stopped within its first moments could hang ~5 s in
                # its own start-up; uvicorn's sleeps used to give it that time (SETTLE_SECONDS; a run that
                # served 0.4 s or more never waits here).
                await asyncio.sleep(self._up_since + SETTLE_SECONDS - asyncio.get_running_loop().time())
                await _messages_taken(DRAIN_SECONDS)
                await self.lifespan.shutdown()
            mark("server: stopped")
            flush()  # uvicorn ends the process by the signal it caught: no exit handlers run

        async def _drained(self) -> None:
            await asyncio.sleep(STOP_POLL_SECONDS)
            while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
                await asyncio.sleep(STOP_POLL_SECONDS)

    return QuickStopServer(config)


async def _messages_taken(timeout: float) -> None:
    """Wait (at most `timeout`) until Prefect's services have taken every message their in-memory topics hold.

    The command's last events (its last task run's states) reach the server just before it is asked to stop;
    Prefect's task-run recorder reads them from an in-memory queue, and stopping it cancels its reader, so
    under load the last task run of a command was sometimes never recorded (1 run in 4 with two busy loops on
    the machine). What a service has taken it writes when it stops. Only the ephemeral in-memory broker is
    looked at (Prefect's `messaging.memory` module, when it is in use); otherwise nothing waits.
    """
    import asyncio

    memory = sys.modules.get("prefect.server.utilities.messaging.memory")
    topics = getattr(getattr(memory, "Topic", None), "_topics", None)
    if not isinstance(topics, dict):
        return

    def pending() -> bool:
        return any(getattr(queue, "qsize", lambda: 0)()
                   for topic in list(topics.values()) for subscription in list(getattr(topic, "_subscriptions", []))
                   for queue in (getattr(subscription, "_queue", None), getattr(subscription, "_retry", None)))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending() and loop.time() < deadline:
        await asyncio.sleep(STOP_POLL_SECONDS)
    await asyncio.sleep(STOP_POLL_SECONDS)  # the handlers that took the last messages hand them on


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


if __name__ == "__main__":
    # Importing Prefect's server and building its app makes ~440k objects, and the collector ran over them
    # again and again: 2.73-3.00 s CPU with it, 2.22-2.44 s without (4 alternating runs). It is turned back
    # on once the server runs, with what start-up made frozen (never scanned again; ~7k of it was garbage).
    gc.disable()
    mark("server: started")
    _serve(int(sys.argv[1]), int(sys.argv[2]))
