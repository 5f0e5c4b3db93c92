"""``kgitops serve``: expose the configured backend (the embedded engine by default) through KusciaAPI's
HTTP interface, so tools written for a Kuscia node (curl, SDKs, the ``kusciaapi`` backend) work against it."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import click

from reconciler.cli.common import backend_options, load_cli_config


def _split_listen(listen: str, flag: str = "--listen") -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"`{listen}` must be HOST:PORT, e.g. 127.0.0.1:8082", param_hint=flag)
    return host.strip("[]"), int(port)


@click.command()
@backend_options
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT to listen on (default: backend.kusciaapi.listen, 127.0.0.1:8082).",
)
@click.option(
    "--grpc-listen",
    default=None,
    help="Also serve KusciaAPI's gRPC JobService and HealthService on HOST:PORT (Kuscia's port: 8083), with "
    "the same certificates and the token in the `token` metadata entry.",
)
@click.option(
    "--cert",
    "cert",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Server certificate (PEM), e.g. kusciaapi-server.crt.",
)
@click.option(
    "--key",
    "key",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Server private key (PEM), e.g. kusciaapi-server.key.",
)
@click.option(
    "--ca",
    "ca",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="CA certificate that client certificates must chain to, e.g. ca.crt.",
)
@click.option(
    "--token-file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="File holding the token clients must send in the `Token` header.",
)
@click.option(
    "--domain",
    default=None,
    help="Serve as this domain's KusciaAPI (P2P): jobs it creates must have it as initiator, approvals are "
    "given for it alone, and every endpoint sees only the jobs it initiates or is a party of.",
)
@click.option("--context", default=None, help="kubeconfig context (kubernetes backend).")
@click.option("-n", "--namespace", default=None, help="Namespace of the jobs (default: cross-domain).")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Plain HTTP without certificates, on a loopback address only: for local development.",
)
@click.option("--heartbeat", default=10.0, show_default=True, type=float, hidden=True)
@click.option(
    "--max-connections",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Connections served at once; more are closed at once.",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client has for its TLS handshake, and for a request's line and headers.",
)
@click.option(
    "--idle-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a kept-alive connection may wait for its next request; also the limit for reading a "
    "request body and for a client to take a reply.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request line (never headers or tokens).")
def serve(
    config_path: str | None,
    backend_kind: str | None,
    state_dir: str | None,
    listen: str | None,
    grpc_listen: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
    token_file: str | None,
    domain: str | None,
    context: str | None,
    namespace: str | None,
    insecure_http: bool,
    heartbeat: float,
    max_connections: int,
    header_timeout: float,
    idle_timeout: float,
    verbose: bool,
) -> None:
    """Serve KusciaAPI (POST /api/v1/job/...) over HTTPS with mutual TLS and the Token header.

    \b
    kgitops serve --cert server.crt --key server.key --ca ca.crt --token-file token
    kgitops serve --insecure-http --listen 127.0.0.1:8082   # local development only
    """
    from reconciler.backends.factory import open_backend
    from reconciler.model import DEFAULT_NAMESPACE
    from reconciler.serve.http import KusciaAPIServer, ServerLimits, TLSFiles, is_loopback, read_token
    from reconciler.serve.service import JobService

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr
    )
    cfg = load_cli_config(config_path, backend_kind, state_dir)
    if context:
        cfg.backend.kubernetes.context = context
    api = cfg.backend.kusciaapi
    host, port = _split_listen(listen or api.listen or "127.0.0.1:8082")
    grpc_address = _split_listen(grpc_listen, "--grpc-listen") if grpc_listen else None
    cert = cert or (str(cfg.resolve(api.server_cert)) if api.server_cert else None)
    key = key or (str(cfg.resolve(api.server_key)) if api.server_key else None)
    ca = ca or (str(cfg.resolve(api.ca)) if api.ca else None)
    token_path = token_file or (str(cfg.resolve(api.token_file)) if api.token_file else None)
    tls = None
    if not insecure_http:
        missing = [flag for flag, value in (("--cert", cert), ("--key", key), ("--ca", ca)) if not value]
        if missing:
            raise click.UsageError(
                f"HTTPS with mutual TLS needs {', '.join(missing)} (or "
                "backend.kusciaapi.server_cert/server_key/ca in the config); "
                "for local development only, pass --insecure-http"
            )
        tls = TLSFiles(str(cert), str(key), str(ca))
    token: str | None = None
    if token_path:
        try:
            token = read_token(token_path)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot use the token file: {exc}") from None
    elif tls is not None:
        click.echo("warning: no --token-file: clients are checked by certificate only", err=True)
    ns = namespace or cfg.backend.kubernetes.namespace or DEFAULT_NAMESPACE
    try:
        service = JobService(lambda: open_backend(cfg), ns, domain if domain is not None else api.domain)
    except Exception as exc:  # the backend could not be opened: say why, no traceback
        raise click.ClickException(f"cannot open the {cfg.backend.kind} backend: {exc}") from None
    try:
        limits = ServerLimits(
            handshake_seconds=header_timeout,
            header_seconds=header_timeout,
            idle_seconds=idle_timeout,
            body_seconds=idle_timeout,
            write_seconds=idle_timeout,
            max_connections=max_connections,
        )
        server = KusciaAPIServer(service, host, port, tls, token, heartbeat_seconds=heartbeat, limits=limits)
    except (ValueError, OSError) as exc:
        service.close()
        raise click.ClickException(str(exc)) from None
    grpc_server = None
    if grpc_address is not None:
        from reconciler.serve.grpc_server import KusciaAPIGrpcServer

        if tls is None and not is_loopback(grpc_address[0]):
            server.httpd.server_close()  # not serving yet: nothing to shut down
            service.close()
            raise click.ClickException(
                f"refusing plaintext gRPC on {grpc_address[0]}: --insecure-http is for loopback only"
            )
        try:
            grpc_server = KusciaAPIGrpcServer(
                service,
                *grpc_address,
                (tls.cert, tls.key, tls.ca) if tls else None,
                token,
                heartbeat_seconds=heartbeat,
            ).start()
        except (OSError, RuntimeError) as exc:
            server.httpd.server_close()
            service.close()
            raise click.ClickException(f"cannot serve gRPC: {exc}") from None
        click.echo(f"serving KusciaAPI over gRPC on {grpc_address[0]}:{grpc_server.port}", err=True)

    def _stop(*_args: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    scheme = "https" if tls else "http"
    click.echo(
        f"serving KusciaAPI for the {cfg.backend.kind} backend on {scheme}://{host}:{server.port}"
        f"{' (INSECURE: no TLS, no client certificates)' if tls is None else ''}",
        err=True,
    )
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
