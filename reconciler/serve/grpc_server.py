"""``kgitops serve --grpc-listen``: KusciaAPI's ``JobService`` (every method of Kuscia's ``job.proto``,
WatchJob as a server stream) and ``HealthService`` over gRPC, on the same ``JobService`` as the HTTP port.

As Kuscia's gRPC port (8083) does (``pkg/kusciaapi/bean/grpc_server_bean.go``, ``pkg/web/interceptor``):
mutual TLS where a client without a certificate fails the handshake; the token in the ``token`` metadata entry
(status UNAUTHENTICATED when missing or wrong); every caller is the master; business errors travel in the
response's ``status`` with gRPC status OK. Served by grpcio with a thread pool of ``workers`` threads.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from reconciler.kuscia import codes as ec
from reconciler.kusciaapi import protojson
from reconciler.kusciaapi.errors import APIError, failure, ok
from reconciler.kusciaapi.messages import HEALTH, OPS, Method, message
from reconciler.serve.service import JobService

log = logging.getLogger("kgitops.serve")
TOKEN_METADATA = "token"


class KusciaAPIGrpcServer:
    """Serve ``service`` over gRPC on host:port (port 0: any free port, see ``port``); ``start()``/``stop()``.

    ``tls`` is (certificate PEM path, key PEM path, CA PEM path) or None for plaintext, which is refused on
    anything but a loopback address by the caller (``reconciler.serve.http.is_loopback``)."""

    def __init__(
        self,
        service: JobService,
        host: str,
        port: int,
        tls: tuple[str, str, str] | None,
        token: str | None,
        heartbeat_seconds: float = 10.0,
        poll_seconds: float = 0.5,
        workers: int = 32,
    ) -> None:
        self.service = service
        self._token = token.encode() if token else None
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self._watches: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kusciaapi-grpc"),
            options=[("grpc.so_reuseport", 0)],
        )
        by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for op, method in OPS.items():
            by_service.setdefault(method.service, {})[method.name] = self._handler(op, method)
        by_service.setdefault(HEALTH.service, {})[HEALTH.name] = self._unary(HEALTH, self._health)
        for name, handlers in by_service.items():
            self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
        address = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        if tls is None:
            self.port = self.server.add_insecure_port(address)
        else:
            cert, key, ca = (Path(p).read_bytes() for p in tls)
            creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)
            self.port = self.server.add_secure_port(address, creds)
        if not self.port:
            raise OSError(f"cannot listen for gRPC on {address}")

    def start(self) -> KusciaAPIGrpcServer:
        self.server.start()
        return self

    def stop(self, grace: float = 2.0) -> None:
        with self._lock:
            for closing in self._watches:
                closing.set()
        self.server.stop(grace).wait()

    # -- handlers ----------------------------------------------------------------------------------
    def _authorized(self, context: grpc.ServicerContext) -> None:
        if self._token is None:
            return
        tokens = [v for k, v in context.invocation_metadata() if k == TOKEN_METADATA]
        if not tokens:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "token not found")
        if not any(hmac.compare_digest(str(t).encode(), self._token) for t in tokens):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "token unauthorized")

    def _unary(
        self, method: Method, answer: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> grpc.RpcMethodHandler:
        response = method.response

        def handle(request: Message, context: grpc.ServicerContext) -> Message:
            self._authorized(context)
            try:
                body = answer(protojson.from_message(request))
            except APIError as exc:
                body = failure(exc.code, exc.message)
            except Exception:  # a bug: answered like Kuscia's recover interceptor, never a traceback
                log.exception("kusciaapi gRPC %s failed", method.name)
                body = failure(ec.UNEXPECTED, "internal error; see the server log")
            return protojson.to_message(response, body)

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=message(method.request).FromString,
            response_serializer=message(response).SerializeToString,
        )

    def _handler(self, op: str, method: Method) -> grpc.RpcMethodHandler:
        if method.streaming:
            return grpc.unary_stream_rpc_method_handler(
                self._watch,
                request_deserializer=message(method.request).FromString,
                response_serializer=message(method.response).SerializeToString,
            )
        return self._unary(method, lambda req: self.service.handle(op, req))

    @staticmethod
    def _health(_req: dict[str, Any]) -> dict[str, Any]:
        return ok({"ready": True})

    def _watch(self, request: Message, context: grpc.ServicerContext) -> Iterator[Message]:
        self._authorized(context)
        response = OPS["watch"].response
        closing = threading.Event()
        context.add_callback(closing.set)  # the client went away, or the deadline passed
        with self._lock:
            self._watches.add(closing)
        try:
            try:
                events = self.service.watch(
                    protojson.from_message(request), self.heartbeat_seconds, self.poll_seconds, closing
                )
            except APIError as exc:
                # Kuscia's stream fails with the error; the status travels as the gRPC status' message
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code}: {exc.message}")
            for event in events:
                obj = event["object"] or None  # a heartbeat carries no job
                yield protojson.to_message(response, {"type": event["type"], "object": obj})
        finally:
            with self._lock:
                self._watches.discard(closing)
