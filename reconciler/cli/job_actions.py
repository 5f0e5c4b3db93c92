"""``kgitops job`` commands that act (create, delete, stop, suspend, restart, cancel, approve, reject,
update) and ``logs``: imported by ``reconciler.cli.job``'s group only when one of them runs, so
``kgitops job list`` does not build their options. The same thin layer: parse flags, call the SDK, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import sdk
from reconciler.cli.common import (
    DURATION,
    client_command,
    emit_data,
    file_size_option,
    output_option,
    pairs_flag,
    reader_command,
)
from reconciler.cli.job_help import ACTIONS


@click.command("create")
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


@click.command("delete")
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
    return click.command(verb)(command)


stop_job = _stage_command("stop", ACTIONS["stop"])
suspend_job = _stage_command("suspend", ACTIONS["suspend"])
restart_job = _stage_command("restart", ACTIONS["restart"])
cancel_job = _stage_command("cancel", ACTIONS["cancel"])


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
    return click.command(verb)(command)


approve_job = _approval_command("approve", "approved", ACTIONS["approve"])
reject_job = _approval_command("reject", "rejected", ACTIONS["reject"])


@click.command("update")
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
        labels=dict(pairs_flag(labels, "label")) or None,
        annotations=dict(pairs_flag(annotations, "annotation")) or None,
        force=force,
    )
    if output in ("json", "yaml"):
        emit_data(info.to_dict(), output)
    else:
        click.echo(f"job {name} updated")


@click.command("logs")
@click.argument("name")
@click.option("--task", help="Only this task (alias or task id).")
@click.option("--party", help="Only this party domain.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the job ends.")
@reader_command
def job_logs(client: sdk.Client, name: str, task: str | None, party: str | None, follow: bool) -> None:
    """Print the logs of a job's tasks (embedded engine)."""
    for line in client.job_logs(name, task=task, party=party, follow=follow):
        click.echo(line.rstrip("\n"))


# name -> command (their help, for `kgitops job --help`: reconciler.cli.job.ACTIONS)
COMMANDS: dict[str, click.Command] = {
    c.name or "": c
    for c in (
        create_job,
        delete_job,
        stop_job,
        suspend_job,
        restart_job,
        cancel_job,
        approve_job,
        reject_job,
        update_job,
        job_logs,
    )
}
