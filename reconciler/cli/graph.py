"""``kgitops graph FILE|JOB``: a job's DAG as Mermaid (for pull requests), dot or terminal text.

From a file, the DAG is the spec's; when the backend also has a job of that name, every task is coloured
by its live phase. A local backend is consulted only if its engine state exists, and read-only, so rendering
in CI never creates one; other backends only with ``--live``. When a backend is read, stderr says which.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.backends.base import BackendError
from reconciler.cli.common import backend_options, load_cli_config, say_what_is_read
from reconciler.cli.jobfile import load_job_file
from reconciler.cli.output import emit_text, use_colour
from reconciler.client import Client, ClientError, JobNotFound
from reconciler.config import Config
from reconciler.model import DEFAULT_NAMESPACE, Resource
from reconciler.render.graph import FORMATS, Graph, graph_from_job, graph_from_spec, render


def _open_client(cfg: Config, namespace: str, live: bool | None) -> Client | None:
    if live is False:
        return None
    if live is None and (cfg.backend.kind or "local") != "local":
        return None
    from reconciler.backends.local import state_exists

    if live is None and not state_exists(cfg.state_dir):
        return None
    say_what_is_read(cfg)
    try:
        return Client.from_config(cfg, namespace, readonly=True)
    except (ClientError, BackendError) as exc:
        if live:
            raise click.ClickException(str(exc)) from None
        return None


def _graph_for(job: Resource, client: Client | None) -> Graph:
    if client is not None:
        try:
            return graph_from_job(client.show_job(job.name))
        except JobNotFound:
            pass
        except (ClientError, BackendError) as exc:
            click.echo(f"warning: live phases unavailable: {exc}", err=True)
    return graph_from_spec(job.name, job.spec)


def _fence(text: str, fmt: str, markdown: bool) -> str:
    if not markdown:
        return text
    return (
        f"```{'mermaid' if fmt == 'mermaid' else 'dot' if fmt == 'dot' else 'text'}\n{text.rstrip()}\n```\n"
    )


@click.command()
@click.argument("target")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="ascii",
    show_default=True,
    help="mermaid (renders in GitHub comments), dot (Graphviz) or ascii (terminal).",
)
@click.option("--job", "job_name", help="With a FILE of several jobs: only this one.")
@click.option(
    "--live/--no-live",
    default=None,
    help="Colour by live phases from the backend (default: when a local engine state exists).",
)
@click.option("--markdown", is_flag=True, help="Wrap the output in a Markdown code fence.")
@click.option("-n", "--namespace", default=DEFAULT_NAMESPACE, show_default=True)
@backend_options
def graph(
    target: str,
    fmt: str,
    job_name: str | None,
    live: bool | None,
    markdown: bool,
    namespace: str,
    config_path: str | None,
    backend_kind: str | None,
    state_dir: str | None,
) -> None:
    """Draw the task DAG of a manifest FILE or of a live JOB."""
    cfg = load_cli_config(config_path, backend_kind, state_dir)
    path = Path(target)
    colour = use_colour() and fmt == "ascii" and not markdown
    if path.is_file():
        jobs = load_job_file(path, validate=False)
        if job_name:
            jobs = [j for j in jobs if j.name == job_name]
            if not jobs:
                raise click.ClickException(f"{path} has no KusciaJob named `{job_name}`")
        client = _open_client(cfg, namespace, live)
        try:
            outputs = [render(_graph_for(j, client), fmt, colour) for j in jobs]
        finally:
            if client is not None:
                client.close()
        for i, text in enumerate(outputs):
            if i:
                click.echo()
            emit_text(_fence(text, fmt, markdown))
        return
    if live is False:
        raise click.ClickException(
            f"`{target}` is not a file, and --no-live forbids looking up a job by name"
        )
    say_what_is_read(cfg)
    try:
        with Client.from_config(cfg, namespace, readonly=True) as client:
            info = client.show_job(target)
    except (ClientError, BackendError) as exc:
        hint = "" if path.suffix not in (".yaml", ".yml") else f" (and there is no file {target})"
        raise click.ClickException(f"{exc}{hint}") from None
    emit_text(_fence(render(graph_from_job(info), fmt, colour), fmt, markdown))
