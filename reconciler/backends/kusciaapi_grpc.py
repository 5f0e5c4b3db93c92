"""KusciaAPI over gRPC for the ``kusciaapi`` backend (``backend.kusciaapi.transport: grpc``): the same calls
as over HTTP, on Kuscia's gRPC port (8083 on a node), with mutual TLS and the token in the ``token`` metadata
entry. Replies come back as the same dicts the HTTP transport reads (proto field names)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc

from reconciler.backends.base import BackendError, NotSupported
from reconciler.kusciaapi import protojson
from reconciler.kusciaapi.events import event_type_name
from reconciler.kusciaapi.messages import OPS, message


class GrpcTransport:
    """One channel to ``host:port``; TLS when ``tls`` (client certificate and key may be empty), plaintext
    otherwise. ``timeout`` is seconds per call. Errors are BackendError with the token never in them."""

    def __init__(
        self, host: str, port: int, tls: bool, cert: str, key: str, ca: str, token: str, timeout: float
    ) -> None:
        target = f"{host}:{port}"
        try:
            if tls:
                creds = grpc.ssl_channel_credentials(
                    root_certificates=Path(ca).read_bytes() if ca else None,
                    private_key=Path(key).read_bytes() if key else None,
                    certificate_chain=Path(cert).read_bytes() if cert else None,
                )
                self.channel = grpc.secure_channel(target, creds)
            else:
                self.channel = grpc.insecure_channel(target)
        except OSError as exc:
            raise BackendError(
                f"cannot load the KusciaAPI client certificate/key/CA ({exc}); check "
                "backend.kusciaapi.cert, .key and .ca in the config"
            ) from None
        self.target = target
        self.timeout = timeout
        self._metadata = (("token", token),) if token else ()

    def _failed(self, op: str, exc: grpc.RpcError) -> BackendError:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return BackendError(
                f"KusciaAPI at {self.target} refused the credentials ({details}): check the token file "
                "and the client certificate"
            )
        return BackendError(f"cannot reach KusciaAPI over gRPC at {self.target} ({op}: {code}: {details})")

    def call(self, op: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The reply to ``op`` (an HTTP op name: create, query, status/batchQuery, ...) as a dict."""
        method = OPS.get(op)
        if method is None or method.streaming:
            raise NotSupported(f"KusciaAPI has no unary gRPC call for `{op}`")
        stub = self.channel.unary_unary(
            method.path,
            request_serializer=message(method.request).SerializeToString,
            response_deserializer=message(method.response).FromString,
        )
        try:
            reply = stub(
                protojson.to_message(method.request, payload), metadata=self._metadata, timeout=self.timeout
            )
        except grpc.RpcError as exc:
            raise self._failed(op, exc) from None
        return protojson.from_message(reply)

    def watch(self, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        method = OPS["watch"]
        stream = self.channel.unary_stream(
            method.path,
            request_serializer=message(method.request).SerializeToString,
            response_deserializer=message(method.response).FromString,
        )
        request = protojson.to_message(method.request, {"timeout_seconds": timeout_seconds})
        try:
            for event in stream(request, metadata=self._metadata):
                doc = protojson.from_message(event)
                yield {"type": event_type_name(doc.get("type")), "object": doc.get("object") or {}}
        except grpc.RpcError as exc:
            raise self._failed("watch", exc) from None

    def close(self) -> None:
        self.channel.close()
