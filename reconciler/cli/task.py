"""``kgitops task list`` / ``task show``: KusciaTasks as ``kubectl get kt`` shows them, and their status."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from reconciler import sdk
from reconciler.cli.common import emit_data, emit_text, output_option, reader_command, use_colour
from reconciler.cli.handler import Group
from reconciler.render.detail import task_detail
from reconciler.render.table import task_table


@click.group(cls=Group)
def task() -> None:
    """Look at KusciaTasks."""


@task.command("list")
@click.option("-j", "--job", help="Only the tasks of this job (never-created ones included, in spec order).")
@click.option("-s", "--status", "statuses", multiple=True, help="Only tasks in this phase (repeatable).")
@click.option(
    "-m", "--max-keys", type=click.IntRange(1, 1000), default=50, show_default=True, help="Tasks per page."
)
@click.option("--marker", help="Continue after this marker (printed under the previous page).")
@output_option()
@reader_command
def list_tasks(
    client: sdk.Client,
    job: str | None,
    statuses: tuple[str, ...],
    max_keys: int,
    marker: str | None,
    output: str,
) -> None:
    """List tasks: NAME, STARTTIME, COMPLETIONTIME, LASTRECONCILETIME (ages) and PHASE."""
    page = client.list_task(job=job, status=statuses or None, max_keys=max_keys, marker=marker)
    if output in ("json", "yaml"):
        emit_data(page.to_dict(), output)
        return
    if not page.items:
        click.echo("No tasks found.")
    else:
        emit_text(task_table(page.items, datetime.now(UTC), output == "wide", use_colour()))
    if page.next_marker:
        click.echo(f"\nMore tasks: --marker {page.next_marker}")


@task.command("show")
@click.argument("name")
@output_option()
@reader_command
def show_task(client: sdk.Client, name: str, output: str) -> None:
    """Show a task's status: phase, reason, parties with endpoints, conditions and times."""
    info = client.show_task(name)
    if output in ("json", "yaml"):
        emit_data(info.to_dict(), output)
    else:
        emit_text(task_detail(info, use_colour()))
