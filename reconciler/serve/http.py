"""``kgitops serve``: KusciaAPI's HTTP interface (``POST /api/v1/job/<op>``) over a JobService.

HTTPS with mutual TLS: the client must present a certificate signed by the configured CA (a request without
one is answered 401; a certificate from another CA fails the handshake) and the ``Token`` header. Plain HTTP
exists for local development only and is refused on anything but a loopback address. What one client may
hold (time, connections, body size, JSON nesting) is bounded by ``ServerLimits`` (``connections.py``).
"""

from __future__ import annotations

import contextlib
import hmac
import io
import ipaddress
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from reconciler.kuscia import codes as ec
from reconciler.kusciaapi import protojson
from reconciler.kusciaapi.errors import APIError, failure, ok
from reconciler.kusciaapi.messages import HEALTH, OPS
from reconciler.serve.connections import (
    MAX_BODY,
    CappedHTTPServer,
    Deadline,
    DeadlineReader,
    ServerLimits,
)
from reconciler.serve.jsonbody import BodyError, NestingError, parse_object
from reconciler.serve.service import EXTENSION_OPS, JobService

log = logging.getLogger("kgitops.serve")
PREFIX = "/api/v1/job/"
HEALTH_PATH = "/healthZ"
UNAUTHENTICATED_DRAIN = 64 * 1024

__all__ = ["MAX_BODY", "KusciaAPIServer", "ServerLimits", "TLSFiles", "is_loopback", "read_token"]


@dataclass(frozen=True)
class TLSFiles:
    cert: str
    key: str
    ca: str

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        ctx.load_verify_locations(self.ca)
        # OPTIONAL, not REQUIRED: a client without a certificate gets a readable 401 instead of a TLS alert;
        # a certificate that does not chain to the CA still fails the handshake.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KusciaAPIServer:
    """Serve ``service`` on host:port; ``start()`` runs it in a thread, ``serve_forever()`` in this one."""

    def __init__(
        self,
        service: JobService,
        host: str = "127.0.0.1",
        port: int = 8082,
        tls: TLSFiles | None = None,
        token: str | None = None,
        heartbeat_seconds: float = 10.0,
        poll_seconds: float = 0.5,
        limits: ServerLimits | None = None,
    ) -> None:
        if tls is None and not is_loopback(host):
            raise ValueError(
                f"refusing plain HTTP on {host}: --insecure-http is for local development on a loopback "
                "address only; give --cert, --key and --ca to serve HTTPS with mutual TLS"
            )
        self.service = service
        self._token = token.encode() if token else None
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.tls = tls
        self.limits = limits or ServerLimits()
        handler = type("Handler", (_Handler,), {"api": self})
        self.httpd = CappedHTTPServer((host, port), handler, self.limits)
        self.httpd.tls = tls.context() if tls else None
        self.closing = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def token_ok(self, presented: str | None) -> bool:
        if self._token is None:
            return True
        return presented is not None and hmac.compare_digest(presented.strip().encode(), self._token)

    def start(self) -> KusciaAPIServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="kusciaapi-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    api: KusciaAPIServer
    protocol_version = "HTTP/1.1"
    server_version = "kgitops-kusciaapi"
    sys_version = ""

    # Replies are buffered and leave in one write when the request is done (``handle_one_request`` flushes):
    # headers and body sent apart would wait out the client's delayed ACK (~40 ms) on every request.
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deadline = Deadline(self.api.limits)
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, self.deadline))
        self._served = 0

    def handle_one_request(self) -> None:
        self.deadline.wait_for_request(first=self._served == 0)
        self._served += 1
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the request line only, never headers
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, http_status: int, data: bytes, content_type: str) -> None:
        self.connection.settimeout(self.api.limits.write_seconds)
        self.send_response(http_status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _reply(self, http_status: int, body: dict[str, Any]) -> None:
        self._send(http_status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _refuse(self, http_status: int, code: int, message: str) -> None:
        """A reply after which the connection closes (the unread rest of the request is read away first)."""
        self.close_connection = True
        self._reply(http_status, failure(code, message))

    def _not_found(self) -> None:
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (501 unsupported method, 400 malformed request line, 414, 431, 408) as
        KusciaAPI failure bodies, with ``Connection: close``."""
        short, _long = self.responses.get(code, ("Error", ""))
        self.log_error("code %d, message %s", code, message or short)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._reply(code, failure(ec.REQUEST_VALIDATE, message or short))

    def handle_expect_100(self) -> bool:
        """No ``100 Continue`` for a request that will be refused for its size or its credentials: the refusal
        is the answer, and the client need not send the body at all."""
        length = self._length()
        if length is None or length > self.api.limits.max_body:
            return True
        if length > UNAUTHENTICATED_DRAIN and self._auth_failure() is not None:
            return True
        return super().handle_expect_100()

    def _auth_failure(self) -> str | None:
        """Why the request is refused (None if it is not): no client certificate, or a wrong token."""
        if self.api.tls is not None:
            conn = self.connection
            cert = conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None
            if not cert:
                return "a client certificate signed by the server's CA is required"
        if not self.api.token_ok(self.headers.get("Token")):
            return "unauthorized: the Token header is missing or wrong"
        return None

    def _length(self) -> int | None:
        """The body's length; None without a usable Content-Length (or with a transfer coding)."""
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return length if length >= 0 else None

    def _read_body(self, length: int) -> bytes | None:
        """The body, or None (after a 408 reply) when the client does not send it within the body deadline."""
        self.deadline.reading_body()
        try:
            data: bytes | None = self.rfile.read(length) if length else b""
        except TimeoutError:
            data = None
        if data is None or len(data) < length:
            self._refuse(408, ec.REQUEST_VALIDATE, "the request body did not arrive in time")
            return None
        return data

    def do_GET(self) -> None:  # noqa: N802
        length = self._length()
        if length is None or length > self.api.limits.max_body:
            self.close_connection = True
        elif self._read_body(length) is None:
            return
        self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        op = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        limit = self.api.limits.max_body
        length = self._length()
        if length is None:
            self._refuse(411, ec.REQUEST_VALIDATE, "send the request body with a valid Content-Length header")
            return
        if length > limit:
            self._refuse(413, ec.REQUEST_VALIDATE, f"request body over {limit} bytes")
            return
        refused = self._auth_failure()
        if refused is not None:
            # A stranger's body is read only when small (so the connection can go on); a larger one is read
            # away after the 401, never kept.
            if length <= UNAUTHENTICATED_DRAIN:
                if self._read_body(length) is None:
                    return
                self._reply(401, failure(ec.AUTH_FAILED, refused))
            else:
                self._refuse(401, ec.AUTH_FAILED, refused)
            return
        raw = self._read_body(length)
        if raw is None:
            return
        if path == HEALTH_PATH:
            self._reply(200, protojson.encode(HEALTH.response, ok({"ready": True})))
            return
        if op not in OPS and op not in EXTENSION_OPS:
            self._not_found()
            return
        method = OPS.get(op)
        try:
            try:
                doc = parse_object(raw, self.api.limits.max_json_depth)
            except NestingError as exc:
                self._reply(400, failure(ec.REQUEST_VALIDATE, str(exc)))
                return
            except BodyError as exc:  # not JSON: Kuscia's UnexpectedErrorHandler answers 11101 with HTTP 200
                raise APIError(ec.UNEXPECTED, str(exc)) from None
            # kgitops' own extension (list) is plain JSON; Kuscia's calls decode as protojson
            req = doc if method is None else protojson.decode(method.request, doc)
        except APIError as exc:
            self._reply(exc.http_status, self._shape(op, failure(exc.code, exc.message)))
            return
        if op == "watch":
            self._watch(req)
            return
        try:
            body = self.api.service.handle(op, req)
        except APIError as exc:
            self._reply(exc.http_status, self._shape(op, failure(exc.code, exc.message)))
            return
        except Exception:  # a bug must not take the server down, nor leak a traceback to the client
            log.exception("kusciaapi %s failed", op)
            self._reply(500, self._shape(op, failure(ec.UNEXPECTED, "internal error; see the server log")))
            return
        self._reply(200, self._shape(op, body))

    @staticmethod
    def _shape(op: str, body: dict[str, Any]) -> dict[str, Any]:
        """The reply as Kuscia's protojson writes it (every field, proto names); the extension as it is."""
        method = OPS.get(op)
        return protojson.encode(method.response, body) if method is not None and op != "watch" else body

    # -- watch: a chunked stream of JSON lines --------------------------------------------------------------
    def _watch(self, req: dict[str, Any]) -> None:
        try:
            events = self.api.service.watch(
                req, self.api.heartbeat_seconds, self.api.poll_seconds, self.api.closing
            )
        except APIError as exc:
            self._reply(200, failure(exc.code, exc.message))
            return
        self.connection.settimeout(self.api.limits.write_seconds)  # a client that stops reading is dropped
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self._chunk(event)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, APIError):
            self.close_connection = True

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, ensure_ascii=False).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def read_token(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        token = fh.read().strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    return token
