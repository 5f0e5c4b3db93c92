"""``kgitops serve``: expose the configured backend (the embedded engine by default) through KusciaAPI's
HTTP interface, so tools written for a Kuscia node (curl, SDKs, the ``kusciaapi`` backend) work against it."""

from __future__ import annotations

import logging
import sys

import click

from reconciler import sdk
from reconciler.cli.common import DURATION, backend_options, cli_config
from reconciler.cli.handler import Command
from reconciler.output.log_format import PrintableFormatter


@click.command(cls=Command)
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
@click.option("-n", "--namespace", default=None, help="Namespace of the jobs (default: cross-domain).")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Plain HTTP without certificates, on a loopback address only: for local development.",
)
@click.option("--heartbeat", default="10s", show_default=True, type=DURATION, hidden=True)
@click.option(
    "--max-connections",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Connections served at once; more are closed at once.",
)
@click.option(
    "--header-timeout",
    default="10s",
    show_default=True,
    type=DURATION,
    help="How long a client has for its TLS handshake, and for a request's line and headers.",
)
@click.option(
    "--idle-timeout",
    default="30s",
    show_default=True,
    type=DURATION,
    help="How long a kept-alive connection may wait for its next request; also the limit for reading a "
    "request body and for a client to take a reply.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request line (never headers or tokens).")
def serve(
    config_path: str | None,
    backend_kind: str | None,
    state_dir: str | None,
    kubeconfig: str | None,
    context: str | None,
    listen: str | None,
    grpc_listen: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
    token_file: str | None,
    domain: str | None,
    namespace: str | None,
    insecure_http: bool,
    heartbeat: float,
    max_connections: int,
    header_timeout: float,
    idle_timeout: float,
    verbose: bool,
) -> None:
    """Serve KusciaAPI (POST /api/v1/job/...) over HTTPS with mutual TLS and the Token header.

    \\b
    kgitops serve --cert server.crt --key server.key --ca ca.crt --token-file token
    kgitops serve --insecure-http --listen 127.0.0.1:8082   # local development only
    """
    if header_timeout <= 0 or idle_timeout <= 0:
        raise click.BadParameter("must be more than 0 seconds", param_hint="--header-timeout/--idle-timeout")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(message)s"))  # a job id from a client: one line
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    cfg = cli_config(config_path, backend_kind, state_dir, context, kubeconfig=kubeconfig)
    options = sdk.ServeOptions(
        listen=listen,
        grpc_listen=grpc_listen,
        cert=cert,
        key=key,
        ca=ca,
        token_file=token_file,
        domain=domain,
        namespace=namespace,
        insecure_http=insecure_http,
        heartbeat=heartbeat,
        max_connections=max_connections,
        header_timeout=header_timeout,
        idle_timeout=idle_timeout,
    )

    def ready(s: sdk.Serving) -> None:
        if s.tls and not s.token:
            click.echo("warning: no --token-file: clients are checked by certificate only", err=True)
        if s.grpc_address:
            click.echo(f"serving KusciaAPI over gRPC on {s.grpc_address}", err=True)
        click.echo(
            f"serving KusciaAPI for the {s.backend} backend on {s.url}"
            f"{' (INSECURE: no TLS, no client certificates)' if not s.tls else ''}",
            err=True,
        )

    sdk.serve(cfg, options, on_ready=ready)
