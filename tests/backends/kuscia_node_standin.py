"""A stand-in for a Kuscia node's KusciaAPI, answering as Kuscia's Go code does where it differs from
``kgitops serve``: no ``list`` call (404, as on a node), the watch stream written back to back with Go's
``encoding/json`` (the event type as a number, left out when 0 = ADDED; empty fields left out), every caller
the master. ``old=True`` plays a node older than the current protocol (the ``kuscia`` 0.0.3b0 package's): the
newer request fields are dropped before the job is made, as an old node's protojson decoder skips them.

Behind it is kgitops' own JobService over the embedded engine's store, on plain HTTP on 127.0.0.1, and, when
asked, the real gRPC server on the same service."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.backends.local import LocalBackend
from reconciler.kusciaapi import protojson
from reconciler.kusciaapi.errors import APIError, failure
from reconciler.kusciaapi.messages import OPS
from reconciler.serve.grpc_server import KusciaAPIGrpcServer
from reconciler.serve.service import JobService

EVENT_NUMBERS = {"ADDED": 0, "MODIFIED": 1, "DELETED": 2, "ERROR": 3, "HEARTBEAT": 4}
NEWER_TASK_FIELDS = ("schedule_config", "tolerable")


def omit_empty(value: Any) -> Any:
    """Go's ``omitempty``: empty strings, zeros, false, empty lists and maps and nulls left out."""
    if isinstance(value, dict):
        out = {k: omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ("", 0, False, None, [], {})}
    if isinstance(value, list):
        return [omit_empty(v) for v in value]
    return value


def strip_newer_fields(req: dict[str, Any]) -> dict[str, Any]:
    for task in req.get("tasks") or ():
        for key in NEWER_TASK_FIELDS:
            task.pop(key, None)
        for party in task.get("parties") or ():
            party.pop("bandwidth_limits", None)
            (party.get("resources") or {}).pop("bandwidth", None)
    return req


class KusciaNode:
    def __init__(self, state: Path, old: bool = False, grpc: bool = False) -> None:
        self.old = old
        self.service = JobService(lambda: LocalBackend(state, autostart=False), "cross-domain")
        self.closing = threading.Event()
        handler = type("Handler", (_Handler,), {"node": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        self.grpc: KusciaAPIGrpcServer | None = None
        if grpc:
            self.grpc = KusciaAPIGrpcServer(
                self.service, "127.0.0.1", 0, None, None, heartbeat_seconds=0.3, poll_seconds=0.05
            ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def grpc_url(self) -> str:
        assert self.grpc is not None
        return f"http://127.0.0.1:{self.grpc.port}"

    def close(self) -> None:
        self.closing.set()
        if self.grpc is not None:
            self.grpc.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.service.close()


class _Handler(BaseHTTPRequestHandler):
    node: KusciaNode
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        op = self.path.removeprefix("/api/v1/job/")
        method = OPS.get(op)
        if method is None:
            self._send(404, b"404 page not found")
            return
        try:
            req = protojson.decode(method.request, raw)
            if self.node.old and op == "create":
                req = strip_newer_fields(req)
            if op == "watch":
                self._watch(req)
                return
            body = self.node.service.handle(op, req)
        except APIError as exc:
            body = failure(exc.code, exc.message)
        self._send(200, json.dumps(protojson.encode(method.response, body)).encode())

    def _watch(self, req: dict[str, Any]) -> None:
        events = self.node.service.watch(req, 0.3, 0.05, self.node.closing)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            doc = omit_empty({"type": EVENT_NUMBERS[event["type"]], "object": event["object"]})
            data = json.dumps(doc, separators=(",", ":")).encode()  # no newline: back to back
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
