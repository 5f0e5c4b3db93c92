"""``kgitops job``: list, show, create, delete, stop, suspend, restart, cancel, approve, reject, update, logs.

A thin layer over ``reconciler.sdk.Client``: parse flags, call the SDK, print. Every command takes the
backend flags (``--config``, ``--backend``, ``--state-dir``) and ``-n/--namespace``. ``list`` and ``show``
are here; the commands that act, and ``logs``, are in ``reconciler.cli.job_actions``, imported only when
one of them runs (their options cost ``kgitops job list`` a few ms to build otherwise).
"""

from __future__ import annotations

import click

from reconciler import sdk
from reconciler.cli.common import emit_data, emit_text, output_option, pairs_flag, reader_command, use_colour
from reconciler.cli.handler import Group
from reconciler.cli.job_help import ACTIONS
from reconciler.render.table import (
    DEFAULT_JOB_FIELDS,
    WIDE_JOB_FIELDS,
    FieldError,
    job_fields_dict,
    job_table,
    parse_fields,
)

FIELDS_HELP = "Comma-separated fields, e.g. id,status,startTime (see `kgitops job list --help-fields`)."


def _fields(spec: str | None, output: str) -> list[str] | None:
    if not spec:
        return None
    try:
        return parse_fields(spec)
    except FieldError as exc:
        raise click.BadParameter(str(exc), param_hint="--fields") from None


def _help_fields(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from reconciler.render.table import JOB_FIELDS

    for name, field in JOB_FIELDS.items():
        click.echo(f"{name:<18} {field.header}")
    ctx.exit()


class JobGroup(Group):
    """``list`` and ``show`` defined here, the ``ACTIONS`` loaded from ``reconciler.cli.job_actions`` when
    one runs; ``--help`` lists all of them alike."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*self.commands, *ACTIONS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ACTIONS:
            from reconciler.cli.job_actions import COMMANDS

            return COMMANDS[cmd_name]
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for n in names:
            command = self.commands.get(n) or click.Command(n, help=ACTIONS[n])
            rows.append((n, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=JobGroup)
def job() -> None:
    """Look at jobs and act on them (on any backend)."""


@job.command("list")
@click.option("-s", "--status", "statuses", multiple=True, help="Only jobs in this phase (repeatable).")
@click.option(
    "-l", "--label", "labels", multiple=True, help="Only jobs with this label, KEY=VALUE (repeatable)."
)
@click.option("--since", help="Only jobs updated after this time (Unix timestamp, ISO 8601 or local time).")
@click.option("--started-after", help='Only jobs started after this local time, "YYYY-MM-DD HH:MM:SS".')
@click.option("--initiator", help="Only jobs initiated by this domain.")
@click.option(
    "-m", "--max-keys", type=click.IntRange(1, 1000), default=50, show_default=True, help="Jobs per page."
)
@click.option("--marker", help="Continue after this marker (printed under the previous page).")
@click.option("--fields", "fields_spec", help=FIELDS_HELP)
@click.option(
    "--help-fields",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_help_fields,
    help="List the fields --fields accepts.",
)
@output_option()
@reader_command
def list_jobs(
    client: sdk.Client,
    statuses: tuple[str, ...],
    labels: tuple[str, ...],
    since: str | None,
    started_after: str | None,
    initiator: str | None,
    max_keys: int,
    marker: str | None,
    fields_spec: str | None,
    output: str,
) -> None:
    """List jobs, a page at a time, in name order."""
    fields = _fields(fields_spec, output)
    # status, labels, since, started_after, initiator, max_keys, marker: the same page either way
    pairs = pairs_flag(labels, "label") or None
    query = (statuses or None, pairs, since, started_after, initiator, max_keys, marker)
    if output in ("json", "yaml"):
        full = client.list_job(*query)
        items = [job_fields_dict(j, fields) if fields else j.to_dict() for j in full.items]
        emit_data({"items": items, "nextMarker": full.next_marker}, output)
        return
    page = client.list_job_summary(*query)  # a table's columns: no task views needed
    if not page.items:
        click.echo("No jobs found.")
    else:
        chosen = fields or list(WIDE_JOB_FIELDS if output == "wide" else DEFAULT_JOB_FIELDS)
        emit_text(job_table(page.items, chosen, use_colour()))
    if page.next_marker:
        click.echo(f"\nMore jobs: --marker {page.next_marker}")


def _show(info: sdk.JobInfo, fields: list[str] | None, output: str, graph: bool) -> None:
    if output in ("json", "yaml"):
        emit_data(job_fields_dict(info, fields) if fields else info.to_dict(), output)
        return
    if fields:
        emit_text(job_table([info], fields, use_colour()))
    else:
        from reconciler.render.detail import job_detail  # `job show`'s alone: not loaded by `job list`

        git = sdk.git_approvals(info)
        emit_text(job_detail(info, use_colour(), git_approvals=git.lines, annotations=git.annotations))
    if graph:
        from reconciler.render.graph import graph_from_job, to_ascii

        click.echo("Graph:")
        emit_text(to_ascii(graph_from_job(info), use_colour()))


@job.command("show")
@click.argument("name")
@click.option("--fields", "fields_spec", help=FIELDS_HELP)
@click.option("--graph", is_flag=True, help="Draw the task DAG, coloured by phase.")
@output_option()
@reader_command
def show_job(client: sdk.Client, name: str, fields_spec: str | None, graph: bool, output: str) -> None:
    """Show a job: phase, reason, approvals and stages per party, and every task (also those never run)."""
    _show(client.show_job(name), _fields(fields_spec, output), output, graph)
