"""A framed TCP link between the two parties of a task, over the ports the engine allocated.

One party listens on its own allocated port, the other connects to the endpoint the task cluster define
gives for that port; the engine may start them in either order, so the connecting side retries until a
deadline and the listening side waits for it just as long. Both sides first swap a hello naming the task
and the party, so a stray connection (another task, a port scanner) is turned away instead of being
mistaken for the peer.

Frames are ``kind (1 byte) | length (4 bytes, big-endian) | payload``. Only three kinds exist: HELLO (task
id, party name, protocol version), DATA (opaque bytes: for PSI, masked group elements), and ABORT (a fixed
sentence saying the sender stopped; never the reason, which may quote local data and stays in the sender's
own log).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time

from taskconfig import TaskError

HELLO = b"H"
DATA = b"D"
ABORT = b"A"
KINDS = (HELLO, DATA, ABORT)
VERSION = 1
MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">cI")


class Link:
    """A connected, verified link to the peer party."""

    def __init__(self, sock: socket.socket, me: str, peer: str, recv_timeout: float) -> None:
        self.sock = sock
        self.me = me
        self.peer = peer
        self.sock.settimeout(recv_timeout)
        self.sent_bytes = 0
        self.received_bytes = 0

    def send(self, kind: bytes, payload: bytes) -> None:
        if kind not in KINDS or len(payload) > MAX_FRAME:
            raise ValueError("bad frame")
        try:
            self.sock.sendall(_HEADER.pack(kind, len(payload)) + payload)
        except OSError as exc:
            raise TaskError(f"lost the connection to {self.peer} while sending ({exc})") from None
        self.sent_bytes += _HEADER.size + len(payload)

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except TimeoutError:
                raise TaskError(f"{self.peer} sent nothing for {self.sock.gettimeout():.0f}s") from None
            except OSError as exc:
                raise TaskError(f"lost the connection to {self.peer} ({exc})") from None
            if not chunk:
                raise TaskError(f"{self.peer} closed the connection before the exchange was complete")
            buf += chunk
        self.received_bytes += n
        return bytes(buf)

    def recv(self, expect: bytes) -> bytes:
        kind, length = _HEADER.unpack(self._read(_HEADER.size))
        if kind not in KINDS or length > MAX_FRAME:
            raise TaskError(f"{self.peer} sent a malformed frame; is it running the same app version?")
        payload = self._read(length)
        if kind == ABORT:
            raise TaskError(f"{self.peer} stopped: {payload.decode('utf-8', 'replace')[:200]}")
        if kind != expect:
            raise TaskError(f"{self.peer} sent a {kind!r} frame where a {expect!r} frame was expected")
        return payload

    def abort(self) -> None:
        """Tell the peer to stop waiting (best effort): a fixed sentence, never local details."""
        message = f"{self.me} failed before the exchange finished (details in {self.me}'s log)"
        with contextlib.suppress(TaskError, ValueError):
            self.send(ABORT, message.encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _hello(task_id: str, party: str) -> bytes:
    return json.dumps({"task_id": task_id, "party": party, "version": VERSION}, sort_keys=True).encode()


def _check_hello(payload: bytes, task_id: str, peer: str) -> str | None:
    """None when the hello is the expected peer's for this task, else why not."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return "unreadable hello"
    if not isinstance(doc, dict):
        return "unreadable hello"
    if doc.get("version") != VERSION:
        return f"protocol version {doc.get('version')!r}, expected {VERSION}"
    if doc.get("task_id") != task_id or doc.get("party") != peer:
        return f"hello from {doc.get('party')!r} of task {doc.get('task_id')!r}"
    return None


def split_endpoint(endpoint: str) -> tuple[str, int]:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TaskError(f"task_cluster_def: endpoint {endpoint!r} is not host:port")
    return host, int(port)


def accept(
    host: str, port: int, *, task_id: str, me: str, peer: str, wait_seconds: float, recv_timeout: float
) -> Link:
    """Listen on our allocated port until the peer of this task connects, or the wait runs out."""
    deadline = time.monotonic() + wait_seconds
    try:
        server = socket.create_server((host, port))
    except OSError as exc:
        raise TaskError(
            f"cannot listen on {host}:{port}, the port allocated to {me} ({exc.strerror})"
        ) from None
    turned_away = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                extra = f"; turned away {turned_away} other connection(s)" if turned_away else ""
                raise TaskError(f"{peer} did not connect to {host}:{port} within {wait_seconds:g}s{extra}")
            server.settimeout(remaining)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            link = Link(conn, me, peer, recv_timeout=min(10.0, recv_timeout))
            try:
                why = _check_hello(link.recv(HELLO), task_id, peer)
            except TaskError as exc:
                why = str(exc)
            if why is not None:
                turned_away += 1
                link.close()
                continue
            link.send(HELLO, _hello(task_id, me))
            link.sock.settimeout(recv_timeout)
            return link
    finally:
        server.close()


def connect(
    endpoint: str,
    *,
    task_id: str,
    me: str,
    peer: str,
    wait_seconds: float,
    retry_interval: float,
    recv_timeout: float,
) -> Link:
    """Connect to the peer's endpoint, retrying (the peer may start later) until the wait runs out."""
    host, port = split_endpoint(endpoint)
    deadline = time.monotonic() + wait_seconds
    last = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TaskError(
                f"cannot reach {peer} at {endpoint} within {wait_seconds:g}s (last error: {last})"
            )
        try:
            sock = socket.create_connection((host, port), timeout=min(remaining, 5.0))
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
            time.sleep(max(0.0, min(retry_interval, deadline - time.monotonic())))
            continue
        link = Link(sock, me, peer, recv_timeout=min(10.0, recv_timeout))
        try:
            link.send(HELLO, _hello(task_id, me))
            why = _check_hello(link.recv(HELLO), task_id, peer)
        except TaskError as exc:
            why = str(exc)
        if why is None:
            link.sock.settimeout(recv_timeout)
            return link
        link.close()
        last = why
        time.sleep(max(0.0, min(retry_interval, deadline - time.monotonic())))
