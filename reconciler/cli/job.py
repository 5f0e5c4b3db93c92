"""``kgitops job``: list, show, create, delete, stop, suspend, restart, cancel, approve, reject, update, logs.

A thin layer over ``reconciler.sdk.Client``: parse flags, call the SDK, print. Every command takes the
backend flags (``--config``, ``--backend``, ``--state-dir``) and ``-n/--namespace``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import sdk
from reconciler.cli.common import (
    DURATION,
    client_command,
    emit_data,
    emit_text,
    file_size_option,
    output_option,
    reader_command,
    use_colour,
)
from reconciler.cli.handler import Group
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


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    try:
        return sdk.parse_pairs(values, what)
    except sdk.ClientError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{what}") from None


def _help_fields(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from reconciler.render.table import JOB_FIELDS

    for name, field in JOB_FIELDS.items():
        click.echo(f"{name:<18} {field.header}")
    ctx.exit()


@click.group(cls=Group)
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
    pairs = _pairs(labels, "label") or None
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


@job.command("create")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest file with one or more KusciaJobs.",
)
@file_size_option
@output_option()
@client_command
def create_job(client: sdk.Client, path: Path, max_file_size: int, output: str) -> None:
    """Validate a manifest file, then create the KusciaJobs in it."""
    docs = sdk.read_job_file(path, max_file_size=max_file_size)
    created = [client.create_job(doc) for doc in docs]
    if output in ("json", "yaml"):
        emit_data({"items": [j.to_dict() for j in created]}, output)
        return
    for info in created:
        click.echo(f"job {info.name} created")


@job.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete even though GitOps sync manages the job.")
@client_command
def delete_job(client: sdk.Client, name: str, force: bool) -> None:
    """Delete a job and its tasks."""
    client.delete_job(name, force=force)
    click.echo(f"job {name} deleted")


STAGE_COMMANDS = {
    "stop": sdk.Client.stop_job,
    "suspend": sdk.Client.suspend_job,
    "restart": sdk.Client.restart_job,
    "cancel": sdk.Client.cancel_job,
}
APPROVAL_COMMANDS = {"approve": sdk.Client.approve_job, "reject": sdk.Client.reject_job}


def _stage_command(verb: str, doc: str) -> click.Command:
    @click.argument("name")
    @click.option("--reason", default="", help="Why (recorded with the command where the backend keeps it).")
    @click.option("--domain", default="", help="The domain issuing the command (default: the initiator).")
    @click.option(
        "--timeout",
        type=DURATION,
        default="10s",
        show_default=True,
        help="How long to wait for the job's phase to change: 10, 30s, 2m (0: do not wait).",
    )
    @output_option()
    @client_command
    def command(client: sdk.Client, name: str, reason: str, domain: str, timeout: float, output: str) -> None:
        before = client.show_job(name).phase
        info = STAGE_COMMANDS[verb](client, name, reason=reason, domain=domain, wait=timeout)
        if output in ("json", "yaml"):
            emit_data(info.to_dict(), output)
        elif info.phase != before:
            click.echo(f"job {name}: {verb} done; phase now {info.phase}")
        else:
            click.echo(
                f"job {name}: {verb} requested; the job is still {info.phase} (the backend acts on it soon)"
            )

    command.__doc__ = doc
    return job.command(verb)(command)


_stage_command("stop", "Stop a job: its running tasks stop and the job becomes Failed.")
_stage_command("suspend", "Suspend a Running job (restart resumes it).")
_stage_command("restart", "Restart a Failed or Suspended job; tasks that did not succeed run again.")
_stage_command("cancel", "Cancel a job for good; it can not be restarted.")


def _approval_command(verb: str, past: str, doc: str) -> click.Command:
    @click.argument("name")
    @click.option("--domain", required=True, help="The party domain that decides.")
    @click.option("--reason", default="", help="Why.")
    @click.option(
        "--timeout",
        type=DURATION,
        default="10s",
        show_default=True,
        help="How long to wait for the job to move on once decided: 10, 30s, 2m (0: do not wait).",
    )
    @output_option()
    @client_command
    def command(client: sdk.Client, name: str, domain: str, reason: str, timeout: float, output: str) -> None:
        info = APPROVAL_COMMANDS[verb](client, name, domain, reason=reason, wait=timeout)
        if output in ("json", "yaml"):
            emit_data(info.to_dict(), output)
        else:
            click.echo(f"job {name}: {past} by {domain}; phase now {info.phase}")

    command.__doc__ = doc
    return job.command(verb)(command)


_approval_command("approve", "approved", "Approve a job waiting for approval, for one party domain.")
_approval_command("reject", "rejected", "Reject a job waiting for approval, for one party domain.")


@job.command("update")
@click.argument("name")
@click.option("-p", "--priority", help="HIGH, NORMAL or LOW (only before the job is scheduled).")
@click.option("-l", "--label", "labels", multiple=True, help="KEY=VALUE to set, KEY= to remove (repeatable).")
@click.option(
    "-a", "--annotation", "annotations", multiple=True, help="KEY=VALUE to set, KEY= to remove (repeatable)."
)
@click.option("--force", is_flag=True, help="Update even though GitOps sync manages the job.")
@output_option()
@client_command
def update_job(
    client: sdk.Client,
    name: str,
    priority: str | None,
    labels: tuple[str, ...],
    annotations: tuple[str, ...],
    force: bool,
    output: str,
) -> None:
    """Change a job's priority, labels or annotations; an empty value removes a label or annotation."""
    info = client.update_job(
        name,
        priority=priority,
        labels=dict(_pairs(labels, "label")) or None,
        annotations=dict(_pairs(annotations, "annotation")) or None,
        force=force,
    )
    if output in ("json", "yaml"):
        emit_data(info.to_dict(), output)
    else:
        click.echo(f"job {name} updated")


@job.command("logs")
@click.argument("name")
@click.option("--task", help="Only this task (alias or task id).")
@click.option("--party", help="Only this party domain.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the job ends.")
@reader_command
def job_logs(client: sdk.Client, name: str, task: str | None, party: str | None, follow: bool) -> None:
    """Print the logs of a job's tasks (embedded engine)."""
    for line in client.job_logs(name, task=task, party=party, follow=follow):
        click.echo(line.rstrip("\n"))
