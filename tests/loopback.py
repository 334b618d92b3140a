"""What the loopback API emulators (``tests/botapi``, ``tests/zaloapi``) have in common.

Each emulator is an HTTP server on ``127.0.0.1`` that answers a bot's API calls with JSON and
lets a test drive and observe it from any thread. The parts that do not depend on which API is
emulated live here:

- :class:`LoopbackServer` and :class:`LoopbackHandler`: a threaded HTTP/1.1 server on a free
  port (``TCP_NODELAY``, quiet, chunked or sized bodies, a check whether the client is still
  there) that hands each request's body to :meth:`LoopbackHandler.respond`;
- :class:`LoopbackEmulator`: the base of an emulator: serving in a daemon thread (``start``,
  ``stop``, ``with``), one lock and condition for all state, the call log, faults queued per
  method (``delay_next``, ``disconnect_next``; each emulator has its own ``fail_next``), the
  ``/bot{token}/{method}`` path, the skeleton of answering a call
  (:meth:`LoopbackEmulator._serve_call`), and the blocking ``wait_for`` with its ``*_async``
  twin (each emulator says what ``wait_idle`` waits for).

What an API's answers, errors and updates look like stays with its emulator. Standard library
only.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import http.server
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "Abandoned",
    "Fault",
    "LoopbackEmulator",
    "LoopbackHandler",
    "LoopbackServer",
    "Response",
]


class Abandoned(Exception):
    """The client of a long poll went away (or the emulator stops): answer nothing."""


@dataclass
class Response:
    """An HTTP answer, or (``disconnect``) dropping the connection without one."""

    status: int
    body: bytes
    content_type: str = "application/json"
    disconnect: bool = False


@dataclass
class Fault:
    """What happens to one call of a method instead of (or, for ``delay``, before) its answer."""

    kind: str  # "error" | "disconnect" | "delay"
    error: Any = None  # "error": the emulator's ApiError to answer with
    seconds: float = 0.0  # "delay"


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server on ``127.0.0.1`` (a free port) that knows its open connections."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, emulator: Any, handler: type[LoopbackHandler]) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def stop(self) -> None:
        """Stop serving, close every open connection (parked long polls too) and the socket."""
        self.shutdown()
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    """Serves GET and POST alike: reads the body, asks :meth:`respond`, writes the answer."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 120
    server: LoopbackServer

    def respond(self, body: bytes) -> Response:
        """The answer to this request (``self.path``, ``self.headers``...) with this body."""
        raise NotImplementedError

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every answer takes 40 ms more.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def client_alive(self) -> bool:
        """False once the client closed its end (e.g. a cancelled long poll)."""
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(self.connection, select.POLLIN)
                events = poller.poll(0)
                if not events:
                    return True
                if events[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return False
            else:  # pragma: no cover - not Linux
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return True
            # Readable: either the peer closed (b"") or it sent something (still there).
            return bool(self.connection.recv(1, socket.MSG_PEEK))
        except (OSError, ValueError):
            return False

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        response = self.respond(body)
        if response.disconnect:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:  # the client went away (e.g. a cancelled long poll)
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# The emulator's common half


class LoopbackEmulator:
    """Serving, locking, the call log, faults and waiting, for an API emulator to build on.

    A subclass sets the class attributes below, calls ``super().__init__()`` before it sets up
    its own state, and answers each API call through :meth:`_serve_call`. All state sits behind
    ``self._lock``; ``self._cond`` (on that lock) is notified on every change.
    """

    _name: ClassVar[str]
    """Names the serving thread: ``{_name}:{port}``."""
    _handler: ClassVar[type[LoopbackHandler]]
    _api_error: ClassVar[type[Exception]]
    """The emulator's ApiError: what an API method raises and what error answers are made of.

    Built as ``(HTTP status or error code, description)``; has ``status`` and ``body()``.
    """
    _content_type: ClassVar[str] = "application/json"
    """The ``Content-Type`` of JSON answers."""
    _crash_description: ClassVar[str] = "emulator crashed: {!r}"
    """The description of the 500 answering an exception that is a bug in the emulator."""
    _polls_are_activity: ClassVar[bool] = False
    """Whether a ``getUpdates`` call coming in counts as activity for :meth:`_wait_quiet`
    (other calls always do, as they start and as they end)."""

    token: str
    """The bot's token, as API calls' paths must carry it (set by the subclass)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self.errors: list[BaseException] = []
        """Exceptions raised inside the emulator (answered as 500): a bug here, not in the bot."""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind ``127.0.0.1`` on a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping = False
        self._server = LoopbackServer(self, self._handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self._name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: long polls return, open connections are closed."""
        server, self._server = self._server, None
        if server is None:
            return
        with self._lock:
            self._stopping = True
            self._cond.notify_all()
        server.stop()
        self._join_threads()

    def _join_threads(self) -> None:
        """Wait (a while) for the threads :meth:`start` started, now that they are told to end."""
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_address[1])

    # ---------------------------------------------------------------- faults

    def disconnect_next(self, method: str, *, times: int = 1) -> None:
        """Drop the connection without answering the next ``times`` calls of ``method``."""
        self._add_fault(method, Fault("disconnect"), times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` only after ``seconds``."""
        self._add_fault(method, Fault("delay", seconds=seconds), times)

    def _fault_key(self, method: str) -> str:
        """Which faults a call of ``method`` takes (the same spelling, unless overridden)."""
        return method

    def _add_fault(self, method: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(self._fault_key(method), []).extend(
                copy.copy(fault) for _ in range(times)
            )

    # ---------------------------------------------------------------- waiting

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10, *, message: str = ""
    ) -> None:
        """Block until ``predicate()`` is true (re-checked on every change, at least every 50 ms).

        Raises :class:`TimeoutError` listing the recent calls. Do not call this from the event
        loop the bot runs on: use :meth:`wait_for_async` there.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._diagnose(message or "condition not met", timeout))
                self._cond.wait(min(remaining, 0.05))

    def _wait_quiet(self, settled: Callable[[], bool], quiet: float, timeout: float) -> None:
        """Wait until ``settled()`` and nothing happened for ``quiet`` seconds (``wait_idle``)."""

        def idle() -> bool:
            return settled() and time.monotonic() - self._last_activity >= quiet

        self.wait_for(idle, timeout, message=f"the bot did not go quiet for {quiet}s")

    def wait_idle(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """Each emulator says what idle means for it (with :meth:`_wait_quiet`)."""
        raise NotImplementedError

    async def wait_for_async(
        self, predicate: Callable[[], bool], timeout: float = 10, *, message: str = ""
    ) -> None:
        """:meth:`wait_for` without blocking the event loop (the predicate runs in a thread)."""
        await asyncio.to_thread(self.wait_for, predicate, timeout, message=message)

    async def wait_idle_async(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """:meth:`wait_idle` without blocking the event loop."""
        await asyncio.to_thread(self.wait_idle, quiet, timeout)

    def _diagnose(self, what: str, timeout: float) -> str:
        with self._lock:
            recent = self._calls[-15:]
            lines = [f"{what} within {timeout}s; last {len(recent)} of {len(self._calls)} calls:"]
            for method, params in recent:
                shown = json.dumps(params, ensure_ascii=False, default=str)
                lines.append(f"  {method} {shown[:300]}")
            lines.extend(self._diagnosis())
            if self.errors:
                lines.append(f"  emulator errors: {self.errors!r}")
            return "\n".join(lines)

    def _diagnosis(self) -> list[str]:
        """Lines about the emulator's state for a timeout's message (called with the lock)."""
        return []

    # ---------------------------------------------------------------- internals

    def _notify(self) -> None:
        self._cond.notify_all()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._notify()

    def _json(self, payload: dict[str, Any], status: int) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return Response(status, body, self._content_type)

    def _error(self, error: Any) -> Response:
        """The answer to an emulator's ApiError."""
        return self._json(error.body(), error.status)

    def _api_method(self, path: str) -> str:
        """The method an API call's path ``/bot{token}/{method}`` names.

        Raises the error answering any other path (404) or a wrong token (401).
        """
        if not path.startswith("/bot"):
            raise self._api_error(404, "Not Found")
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            raise self._api_error(401, "Unauthorized")
        return method

    def _unknown_method(self, method: str) -> Response:
        """The answer to a call of a method the emulator does not know."""
        return self._error(self._api_error(404, "Not Found"))

    def _success(self, result: Any) -> dict[str, Any]:
        """The body answering a call whose method returned ``result``."""
        return {"ok": True, "result": result}

    def _serve_call(
        self, method: str, logged: dict[str, Any], api: Callable[[], Any] | None
    ) -> Response:
        """Answer a call of ``method`` (``api``: the method, bound to its parameters; None if
        unknown): log it as ``(method, logged)``, apply the next fault queued for it, else run
        ``api`` with the lock held. A call other than ``getUpdates`` is in flight until answered.
        """
        with self._lock:
            self._calls.append((method, logged))
            faults = self._faults.get(self._fault_key(method))
            fault = faults.pop(0) if faults else None
            tracked = method != "getUpdates"
            if tracked:
                self._in_flight += 1
            if tracked or self._polls_are_activity:
                self._last_activity = time.monotonic()
            self._notify()
        try:
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "disconnect":
                return Response(0, b"", disconnect=True)
            if fault is not None and fault.kind == "error":
                return self._error(fault.error)
            if api is None:
                return self._unknown_method(method)
            try:
                with self._lock:
                    if self._stopping:
                        raise self._api_error(502, "Bad Gateway")
                    result = api()
            except self._api_error as error:
                return self._error(error)
            except Abandoned:
                return Response(0, b"", disconnect=True)
            except Exception as exc:  # a bug in the emulator: make it visible
                with self._lock:
                    self.errors.append(exc)
                return self._error(self._api_error(500, self._crash_description.format(exc)))
            return self._json(self._success(result), 200)
        finally:
            if tracked:
                with self._lock:
                    self._in_flight -= 1
                    self._touch()
