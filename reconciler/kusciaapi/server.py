"""``kgitops serve``: KusciaAPI's HTTP interface (``POST /api/v1/job/<op>``) over a JobService.

HTTPS with mutual TLS: the client must present a certificate signed by the configured CA (a request without
one is answered 401; a certificate from another CA fails the handshake) and the ``Token`` header. Plain HTTP
exists for local development only and is refused on anything but a loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.kusciaapi import errors as ec
from reconciler.kusciaapi.errors import APIError, failure
from reconciler.kusciaapi.service import OPS, JobService

log = logging.getLogger("kgitops.serve")
PREFIX = "/api/v1/job/"
MAX_BODY = 8 * 1024 * 1024
UNAUTHENTICATED_DRAIN = 64 * 1024
MAX_WATCH_TIMEOUT = 2**31 - 1
SOURCE_HEADER = "Kuscia-Source"


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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, on the connection's own thread: a slow client cannot stall accept().
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as exc:
                log.info("TLS handshake with %s failed: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)


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
        handler = type("Handler", (_Handler,), {"api": self})
        self.httpd = _HTTPServer((host, port), handler)
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the request line only, never headers
        log.debug("%s %s", self.address_string(), format % args)

    def _reply(self, http_status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(http_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        data = b"404 page not found\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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

    def do_GET(self) -> None:  # noqa: N802
        self._drain()
        self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        op = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._reply(
                413,
                failure(ec.REQUEST_VALIDATE, f"request body missing a valid length or over {MAX_BODY} bytes"),
            )
            return
        refused = self._auth_failure()
        if refused is not None:
            # A stranger's body is read only when small (so the 401 arrives intact), never buffered.
            if length <= UNAUTHENTICATED_DRAIN:
                self.rfile.read(length)
            else:
                self.close_connection = True
            self._reply(401, failure(ec.AUTH_FAILED, refused))
            return
        raw = self.rfile.read(length) if length else b""
        if op not in OPS:
            self._not_found()
            return
        try:
            req = json.loads(raw or b"{}")
            if not isinstance(req, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._reply(400, failure(ec.REQUEST_VALIDATE, f"request body is not valid JSON: {exc}"))
            return
        if op == "watch":
            self._watch(req)
            return
        try:
            body = self.api.service.handle(op, req, self.headers.get(SOURCE_HEADER) or "")
        except APIError as exc:
            self._reply(exc.http_status, failure(exc.code, exc.message))
            return
        except Exception:  # a bug must not take the server down, nor leak a traceback to the client
            log.exception("kusciaapi %s failed", op)
            self._reply(500, failure(ec.REQUEST_VALIDATE, "internal error; see the server log"))
            return
        self._reply(200, body)

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)

    # -- watch: a chunked stream of JSON lines --------------------------------------------------------------
    def _watch(self, req: dict[str, Any]) -> None:
        try:
            timeout = int(req.get("timeout_seconds") or 0)
        except (TypeError, ValueError):
            timeout = -1
        if not 0 <= timeout <= MAX_WATCH_TIMEOUT:
            self._reply(200, failure(ec.REQUEST_VALIDATE, "timeout seconds must be in [0,2^31-1]"))
            return
        try:
            known = self.api.service.snapshot()
        except APIError as exc:
            self._reply(200, failure(exc.code, exc.message))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        end = time.monotonic() + (timeout or MAX_WATCH_TIMEOUT)
        last_sent = time.monotonic()
        try:
            for _fp, obj in known.values():
                self._chunk({"type": "ADDED", "object": obj})
            while time.monotonic() < end and not self.api.closing.is_set():
                self.api.closing.wait(min(self.api.poll_seconds, max(0.0, end - time.monotonic())))
                current = self.api.service.snapshot()
                events = []
                for name, (fp, obj) in current.items():
                    if name not in known:
                        events.append({"type": "ADDED", "object": obj})
                    elif known[name][0] != fp:
                        events.append({"type": "MODIFIED", "object": obj})
                for name in known.keys() - current.keys():
                    events.append({"type": "DELETED", "object": known[name][1]})
                known = current
                for event in events:
                    self._chunk(event)
                if events:
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= self.api.heartbeat_seconds:
                    self._chunk({"type": "HEARTBEAT", "object": {}})
                    last_sent = time.monotonic()
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
