"""What one client can hold of ``kgitops serve``: slow and idle connections are closed at their deadline (with
or without TLS, with or without a client certificate), connections are capped, deeply nested JSON is refused
with an error, and refusals that leave a body unread (413, 401, 501) are delivered, not reset.

A real server on 127.0.0.1 and real sockets; the limits are short so the tests are quick, and every wait polls
with a deadline."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.serve.http import KusciaAPIServer, ServerLimits, TLSFiles
from reconciler.serve.service import JobService

from .certs import PKI
from .kusciaapi_fixtures import TOKEN

LIMITS = ServerLimits(
    handshake_seconds=0.6,
    header_seconds=0.6,
    idle_seconds=1.0,
    body_seconds=1.0,
    write_seconds=2.0,
    max_connections=40,
    max_body=8 * 1024 * 1024,
    linger_seconds=2.0,
    linger_bytes=16 * 1024 * 1024,
)
BIG = 9 * 1024 * 1024  # over max_body (8 MiB, the default), and more than socket buffers hold
MID = 4 * 1024 * 1024  # under max_body, far over what is read of a stranger's request
HEAD = "POST /api/v1/job/query HTTP/1.1\r\nHost: x\r\nToken: {token}\r\nContent-Length: {length}\r\n\r\n"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    svc = JobService(lambda: LocalBackend(tmp_path / "state", autostart=False), "cross-domain")
    yield svc
    svc.close()


@pytest.fixture
def plain(service: JobService) -> Iterator[KusciaAPIServer]:
    server = KusciaAPIServer(service, "127.0.0.1", 0, token=TOKEN, limits=LIMITS).start()
    yield server
    server.stop()


@pytest.fixture
def tls(service: JobService, pki: PKI) -> Iterator[KusciaAPIServer]:
    files = TLSFiles(str(pki.server_cert), str(pki.server_key), str(pki.ca))
    server = KusciaAPIServer(service, "127.0.0.1", 0, files, TOKEN, limits=LIMITS).start()
    yield server
    server.stop()


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset); never blocks."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def raw_request(port: int, head: bytes, body: bytes = b"", wrap: ssl.SSLContext | None = None) -> bytes:
    """Send a whole request (headers then body, as simple clients do) and read the reply to EOF."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    if wrap is not None:
        sock = wrap.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def status_and_body(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    code = int(head.split(b" ", 2)[1])
    assert b"connection: close" in head.lower(), head
    return code, json.loads(body)


def test_idle_and_slow_connections_are_closed_at_their_deadline(plain: KusciaAPIServer) -> None:
    port = plain.port
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    partial = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /api/v1/job/query HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n")  # no end
        partial.append(s)
    body_never_comes = socket.create_connection(("127.0.0.1", port))
    body_never_comes.sendall(HEAD.format(token=TOKEN, length=20).encode() + b"{")
    # slowloris: one byte every 50 ms keeps every single read short, but not the request as a whole
    drip = socket.create_connection(("127.0.0.1", port))
    stop = threading.Event()

    def dripping() -> None:
        for byte in b"POST /api/v1/job/query HTTP/1.1\r\nHost: x\r\n" * 100:
            if stop.wait(0.05):
                return
            try:
                drip.send(bytes([byte]))
            except OSError:
                return

    dripper = threading.Thread(target=dripping, daemon=True)
    dripper.start()
    try:
        everyone = [*silent, *partial, body_never_comes, drip]
        took = wait_until(lambda: all(closed_by_server(s) for s in everyone), 6, "the server to close them")
        assert took < 4
        wait_until(lambda: plain.httpd.active_connections == 0, 6, "no connection left open")
        # the server still serves
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/v1/job/list", body=b"{}", headers={"Token": TOKEN})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        stop.set()
        for s in [*silent, *partial, body_never_comes, drip]:
            s.close()


def test_a_body_that_does_not_arrive_in_time_gets_408(plain: KusciaAPIServer) -> None:
    sock = socket.create_connection(("127.0.0.1", plain.port), timeout=10)
    with sock:
        sock.sendall(HEAD.format(token=TOKEN, length=50).encode() + b"{")
        reply = b""
        while data := sock.recv(65536):
            reply += data
    code, doc = status_and_body(reply)
    assert code == 408 and doc["status"]["code"] == 11100


def test_tls_connections_without_a_handshake_or_a_certificate_are_closed(
    tls: KusciaAPIServer, pki: PKI
) -> None:
    port = tls.port
    no_handshake = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    ctx = ssl.create_default_context(cafile=str(pki.ca))  # no client certificate
    no_certificate = [
        ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        for _ in range(10)
    ]
    raw_of = list(no_certificate)
    try:

        def all_closed() -> bool:
            plain_closed = all(closed_by_server(s) for s in no_handshake)
            tls_closed = True
            for s in raw_of:
                s.setblocking(False)
                try:
                    tls_closed &= s.recv(1) == b""
                except ssl.SSLWantReadError:
                    tls_closed = False
                except (ssl.SSLError, OSError):
                    pass
                finally:
                    s.setblocking(True)
            return plain_closed and tls_closed

        took = wait_until(all_closed, 6, "the server to close them")
        assert took < 4
        wait_until(lambda: tls.httpd.active_connections == 0, 6, "no connection left open")
    finally:
        for s in [*no_handshake, *no_certificate]:
            s.close()


def test_connections_over_the_cap_are_closed_at_once(service: JobService) -> None:
    limits = ServerLimits(handshake_seconds=30, header_seconds=30, max_connections=10, linger_seconds=0.5)
    server = KusciaAPIServer(service, "127.0.0.1", 0, token=TOKEN, limits=limits).start()
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(limits.max_connections)]
    try:
        wait_until(lambda: server.httpd.active_connections == limits.max_connections, 5, "all accepted")
        extra = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        wait_until(lambda: all(closed_by_server(s) for s in extra), 10, "the extra ones to be closed")
        for s in extra:
            s.close()
        # closed at accept, not by a deadline: the ones within the cap are still open
        assert not any(closed_by_server(s) for s in held)
        assert server.httpd.active_connections == limits.max_connections
    finally:
        for s in held:
            s.close()
        wait_until(lambda: server.httpd.active_connections == 0, 10, "the held ones to be closed")
        server.stop()


def test_deeply_nested_json_is_refused_with_an_error(
    plain: KusciaAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kgitops.serve")
    for body in (
        b'{"job_id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"job_id": "x", "a": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_000 + b"}",
        b"[" * 60_000,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
        conn.request("POST", "/api/v1/job/query", body=body, headers={"Token": TOKEN})
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        conn.close()
        assert resp.status == 400 and doc["status"]["code"] == 11100
        assert "nested more than 64 levels" in doc["status"]["message"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # nesting a request legitimately needs is fine
    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
    conn.request("POST", "/api/v1/job/query", body=b'{"job_id": "nope"}', headers={"Token": TOKEN})
    assert json.loads(conn.getresponse().read())["status"]["code"] == 11202
    conn.close()


@pytest.mark.parametrize("secure", [False, True])
def test_refusals_with_an_unread_body_are_delivered(
    plain: KusciaAPIServer, tls: KusciaAPIServer, pki: PKI, secure: bool
) -> None:
    server = tls if secure else plain
    ctx = None
    if secure:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    body = b"x" * BIG
    cases = [
        (f"POST /api/v1/job/create HTTP/1.1\r\nHost: x\r\nToken: {TOKEN}\r\n", 413, 11100),  # over max_body
        ("POST /api/v1/job/create HTTP/1.1\r\nHost: x\r\nToken: wrong\r\n", 413, 11100),
    ]
    for head, want, code in cases:
        reply = raw_request(server.port, f"{head}Content-Length: {BIG}\r\n\r\n".encode(), body, ctx)
        got, doc = status_and_body(reply)
        assert (got, doc["status"]["code"]) == (want, code), (head, reply[:200])
    for method in ("PUT", "DELETE", "PATCH"):
        head = HEAD.replace("POST", method).format(token=TOKEN, length=MID)
        reply = raw_request(server.port, head.encode(), b"x" * MID, ctx)
        got, doc = status_and_body(reply)
        assert (got, doc["status"]["code"]) == (501, 11100), (head, reply[:200])
    # 401: a body under the size limit, but larger than what is read of a stranger's request
    for token_header in ("Token: wrong\r\n", ""):
        head = f"POST /api/v1/job/create HTTP/1.1\r\nHost: x\r\n{token_header}Content-Length: {MID}\r\n\r\n"
        got, doc = status_and_body(raw_request(server.port, head.encode(), b"x" * MID, ctx))
        assert (got, doc["status"]["code"]) == (401, 11102)
