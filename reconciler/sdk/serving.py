"""Serving KusciaAPI (``POST /api/v1/job/...``) for the configured backend, so tools written for a Kuscia
node (curl, SDKs, the ``kusciaapi`` backend) work against it. Errors are ``ServeError`` (exit 1) or, for a
missing certificate, ``reconciler.errors.UsageError`` (exit 2)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.config import Config
from reconciler.errors import KgitopsError, UsageError

__all__ = ["ServeError", "ServeOptions", "Serving", "serve"]


class ServeError(KgitopsError):
    """The server cannot start: a bad address, an unusable token file, a backend that cannot be opened."""

    exit_code = 1


@dataclass(frozen=True)
class ServeOptions:
    """Overrides of ``backend.kusciaapi``: ``listen`` (``HOST:PORT``), the server ``cert``/``key`` and the
    client ``ca`` (PEM files), ``token_file``, ``domain`` (P2P scope); ``namespace`` of the jobs; the
    connection limits (``max_connections``; ``header_timeout``/``idle_timeout`` in seconds) and
    ``heartbeat`` (seconds between watch heartbeats). ``insecure_http``: plain HTTP, loopback only.
    ``grpc_listen`` (``HOST:PORT``): also serve KusciaAPI's gRPC JobService and HealthService there, with the
    same certificates and the token in the ``token`` metadata entry."""

    listen: str | None = None
    grpc_listen: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    token_file: str | None = None
    domain: str | None = None
    namespace: str | None = None
    insecure_http: bool = False
    heartbeat: float = 10.0
    max_connections: int = 256
    header_timeout: float = 10.0
    idle_timeout: float = 30.0


@dataclass(frozen=True)
class Serving:
    """What ``on_ready`` is told once the servers listen: the HTTP URL, the gRPC ``HOST:PORT`` (or ""),
    and whether TLS and a token are used."""

    url: str
    grpc_address: str
    tls: bool
    token: bool
    backend: str


def split_listen(listen: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8082`` too) -> (host, port); ``UsageError`` otherwise."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"`{listen}` must be HOST:PORT, e.g. 127.0.0.1:8082", hint=f"pass {flag} HOST:PORT")
    return host.strip("[]"), int(port)


def serve(cfg: Config, options: ServeOptions, on_ready: Callable[[Serving], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT (the SIGTERM handler is restored afterwards).

    HTTPS with mutual TLS needs ``cert``, ``key`` and ``ca`` (from ``options`` or the config), unless
    ``insecure_http``; without a token file, clients are checked by certificate only."""
    from reconciler.backends.factory import open_backend
    from reconciler.model import DEFAULT_NAMESPACE
    from reconciler.serve.http import KusciaAPIServer, ServerLimits, TLSFiles, is_loopback, read_token
    from reconciler.serve.service import JobService

    api = cfg.backend.kusciaapi
    host, port = split_listen(options.listen or api.listen or "127.0.0.1:8082")
    grpc_address = split_listen(options.grpc_listen, "--grpc-listen") if options.grpc_listen else None
    cert = options.cert or (str(cfg.resolve(api.server_cert)) if api.server_cert else None)
    key = options.key or (str(cfg.resolve(api.server_key)) if api.server_key else None)
    ca = options.ca or (str(cfg.resolve(api.ca)) if api.ca else None)
    token_path = options.token_file or (str(cfg.resolve(api.token_file)) if api.token_file else None)
    tls = None
    if not options.insecure_http:
        missing = [flag for flag, value in (("--cert", cert), ("--key", key), ("--ca", ca)) if not value]
        if missing:
            raise UsageError(
                f"HTTPS with mutual TLS needs {', '.join(missing)} (or "
                "backend.kusciaapi.server_cert/server_key/ca in the config)",
                hint="for local development only, pass --insecure-http",
            )
        tls = TLSFiles(str(cert), str(key), str(ca))
    token: str | None = None
    if token_path:
        try:
            token = read_token(token_path)
        except (OSError, ValueError) as exc:
            raise ServeError(f"cannot use the token file: {exc}") from None
    ns = options.namespace or cfg.backend.kubernetes.namespace or DEFAULT_NAMESPACE
    domain = options.domain if options.domain is not None else api.domain
    try:
        service = JobService(lambda: open_backend(cfg), ns, domain)
    except KgitopsError as exc:  # the backend says why, and how to fix it (a cluster error: exit 2)
        message = f"cannot open the {cfg.backend.kind} backend: {exc.message}"
        raise ServeError(message, hint=exc.hint, exit_code=exc.exit_code) from None
    except Exception as exc:  # the backend could not be opened: say why, no traceback
        raise ServeError(f"cannot open the {cfg.backend.kind} backend: {exc}") from None
    try:
        limits = ServerLimits(
            handshake_seconds=options.header_timeout,
            header_seconds=options.header_timeout,
            idle_seconds=options.idle_timeout,
            body_seconds=options.idle_timeout,
            write_seconds=options.idle_timeout,
            max_connections=options.max_connections,
        )
        server = KusciaAPIServer(
            service, host, port, tls, token, heartbeat_seconds=options.heartbeat, limits=limits
        )
    except (ValueError, OSError) as exc:
        service.close()
        raise ServeError(str(exc)) from None
    grpc_server = None
    if grpc_address is not None:
        from reconciler.serve.grpc_server import KusciaAPIGrpcServer

        if tls is None and not is_loopback(grpc_address[0]):
            server.httpd.server_close()  # not serving yet: nothing to shut down
            service.close()
            raise ServeError(
                f"refusing plaintext gRPC on {grpc_address[0]}: --insecure-http is for loopback only"
            )
        try:
            grpc_server = KusciaAPIGrpcServer(
                service,
                *grpc_address,
                (tls.cert, tls.key, tls.ca) if tls else None,
                token,
                heartbeat_seconds=options.heartbeat,
            ).start()
        except (OSError, RuntimeError) as exc:
            server.httpd.server_close()
            service.close()
            raise ServeError(f"cannot serve gRPC: {exc}") from None

    def _stop(*_args: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    if on_ready is not None:
        scheme = "https" if tls else "http"
        grpc = f"{grpc_address[0]}:{grpc_server.port}" if grpc_address and grpc_server else ""
        url = f"{scheme}://{host}:{server.port}"
        on_ready(Serving(url, grpc, tls is not None, token is not None, cfg.backend.kind))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        if grpc_server is not None:
            grpc_server.stop()
        service.close()
