"""``kgitops graph FILE|JOB``: a job's DAG as Mermaid (for pull requests), dot or terminal text.

From a file, the DAG is the spec's; when the backend also has a job of that name, every task is coloured
by its live phase. A local backend is consulted only if its engine state exists, and read-only, so rendering
in CI never creates one; other backends only with ``--live``. When a backend is read, stderr says which.
"""

from __future__ import annotations

import click

from reconciler import sdk
from reconciler.cli.common import (
    backend_options,
    cli_config,
    colour_option,
    emit_text,
    file_size_option,
    namespace_option,
    use_colour,
)
from reconciler.cli.handler import Command
from reconciler.render.graph import FORMATS, render


def _fence(text: str, fmt: str, markdown: bool) -> str:
    if not markdown:
        return text
    return (
        f"```{'mermaid' if fmt == 'mermaid' else 'dot' if fmt == 'dot' else 'text'}\n{text.rstrip()}\n```\n"
    )


def _say(line: str) -> None:
    click.echo(line, err=True)


@click.command(cls=Command)
@click.argument("target")
@click.option(
    "-o",
    "--output",
    type=click.Choice(FORMATS),
    default="ascii",
    show_default=True,
    help="mermaid (renders in GitHub comments), dot (Graphviz) or ascii (terminal).",
)
@click.option("--format", "old_format", type=click.Choice(FORMATS), default=None, hidden=True)  # deprecated
@click.option("-j", "--job", "job_name", help="With a FILE of several jobs: only this one.")
@click.option(
    "--live/--no-live",
    default=None,
    help="Colour by live phases from the backend (default: when a local engine state exists).",
)
@click.option("--markdown", is_flag=True, help="Wrap the output in a Markdown code fence.")
@namespace_option
@colour_option
@file_size_option
@backend_options
def graph(
    target: str,
    output: str,
    old_format: str | None,
    job_name: str | None,
    live: bool | None,
    markdown: bool,
    namespace: str,
    color: bool | None,
    max_file_size: int,
    config_path: str | None,
    backend_kind: str | None,
    state_dir: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Draw the task DAG of a manifest FILE or of a live JOB."""
    fmt = old_format or output
    cfg = cli_config(config_path, backend_kind, state_dir, context, kubeconfig=kubeconfig)
    colour = use_colour(color) and fmt == "ascii" and not markdown
    result = sdk.job_graphs(
        target, cfg, namespace, live, job_name, announce=_say, max_file_size=max_file_size
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for i, g in enumerate(result.graphs):
        if i:
            click.echo()
        emit_text(_fence(render(g, fmt, colour), fmt, markdown), color)
