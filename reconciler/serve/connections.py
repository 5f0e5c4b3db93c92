"""Connection handling for ``kgitops serve``: deadlines, a connection cap, and replies that arrive.

What a slow or hostile client can hold is bounded:

- the TLS handshake must finish within ``handshake_seconds``, as a whole (not per packet);
- a request's line and headers must arrive within ``header_seconds`` — counted from the connection's start for
  its first request, and from the request's first byte on a kept-alive connection, which may idle between
  requests for ``idle_seconds``; its body must arrive within ``body_seconds``. A client that drips one byte at
  a time (slowloris) is cut off at the deadline, not kept alive by each byte;
- each reply (and each event of a watch stream) must be taken by the client within ``write_seconds``;
- at most ``max_connections`` connections are served at once; more are closed at accept.

A refusal that leaves a request body unread (413, 401, 501, ...) is answered with ``Connection: close``; the
server then stops writing and reads the rest of the body away (up to ``linger_bytes`` for at most
``linger_seconds``) before it closes, so the client reads the reply instead of a connection reset (the kernel
resets a connection closed with unread data).
"""

from __future__ import annotations

import contextlib
import io
import logging
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

log = logging.getLogger("kgitops.serve")

MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """How much a client may hold; every field is configurable (tests use short timeouts)."""

    handshake_seconds: float = 10.0
    header_seconds: float = 10.0
    idle_seconds: float = 30.0
    body_seconds: float = 30.0
    write_seconds: float = 30.0
    max_connections: int = 256
    max_body: int = MAX_BODY
    max_json_depth: int = 64
    linger_seconds: float = 2.0
    linger_bytes: int = MAX_BODY + 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("handshake_seconds", "header_seconds", "idle_seconds", "body_seconds", "write_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_connections < 1 or self.max_body < 0 or self.max_json_depth < 1:
            raise ValueError("max_connections and max_json_depth must be at least 1, max_body at least 0")


class Deadline:
    """The time by which the current read must be done; a kept-alive connection starts idle and switches to
    the header deadline at a request's first byte."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.at = time.monotonic() + limits.header_seconds
        self.idle = False

    def wait_for_request(self, first: bool) -> None:
        if first:
            return  # the header deadline counts from the connection's start
        self.idle = True
        self.at = time.monotonic() + self.limits.idle_seconds

    def reading_body(self) -> None:
        self.idle = False
        self.at = time.monotonic() + self.limits.body_seconds

    def got_bytes(self) -> None:
        if self.idle:
            self.idle = False
            self.at = time.monotonic() + self.limits.header_seconds


class DeadlineReader(io.RawIOBase):
    """The socket's read side, where every ``recv`` waits only until the connection's deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client did not send its request in time")
        self.sock.settimeout(remaining)
        n = self.sock.recv_into(buffer)
        if n:
            self.deadline.got_bytes()
        return n


def handshake(ctx: ssl.SSLContext, sock: socket.socket, seconds: float) -> ssl.SSLSocket:
    """The server side of a TLS handshake that must be complete within ``seconds`` (TimeoutError if not)."""
    tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    try:
        _handshake(tls, time.monotonic() + seconds)
    except BaseException:
        tls.close()
        raise
    return tls


def _handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    tls.setblocking(False)
    with selectors.DefaultSelector() as sel:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                events = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                events = selectors.EVENT_WRITE
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("TLS handshake not finished in time")
            sel.register(tls, events)
            ready = sel.select(remaining)
            sel.unregister(tls)
            if not ready:
                raise TimeoutError("TLS handshake not finished in time")
    tls.setblocking(True)


def linger_close(sock: socket.socket, limits: ServerLimits) -> None:
    """Stop writing, read away what the client still sends (bounded), then close: the reply already written
    reaches the client instead of a reset."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_WR)  # the plain socket's: no TLS record is written
    deadline = time.monotonic() + limits.linger_seconds
    drained = 0
    try:
        while drained <= limits.linger_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            socket.socket.settimeout(sock, remaining)
            chunk = socket.socket.recv(sock, 65536)  # raw bytes, TLS or not: they are discarded
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass
    sock.close()


class CappedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that serves at most ``limits.max_connections`` connections at once, does the
    TLS handshake on the connection's own thread under a deadline, and closes connections lingering."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: Any, limits: ServerLimits) -> None:
        super().__init__(address, handler)
        self.limits = limits
        self.tls: ssl.SSLContext | None = None
        self._active = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()
        self._refused = 0
        self._warned = -10.0

    @property
    def active_connections(self) -> int:
        with self._count_lock:
            return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            full = self._active >= self.limits.max_connections
            if not full:
                self._active += 1
        if full:
            request.close()
            self._refused += 1
            now = time.monotonic()
            if now - self._warned >= 10:  # under a flood, one line per 10 s, not one per connection
                log.warning(
                    "refused %d connection(s), the last from %s: %d connections are open (the limit)",
                    self._refused,
                    client_address[0],
                    self.limits.max_connections,
                )
                self._warned, self._refused = now, 0
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        with self._count_lock:
            self._active -= 1

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        self._local.tls = None
        if self.tls is not None:
            try:
                request = self._local.tls = handshake(self.tls, request, self.limits.handshake_seconds)
            except (ssl.SSLError, OSError) as exc:  # TimeoutError is an OSError
                log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Runs on the connection's thread once it is served: the TLS socket (which owns the connection once
        wrapped) or the plain one is closed lingering."""
        wrapped = getattr(self._local, "tls", None)
        self._local.tls = None
        linger_close(wrapped if wrapped is not None else request, self.limits)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that breaks its connection is routine: one log line, never a traceback on stderr."""
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)
