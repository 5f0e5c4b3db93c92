"""``kgitops simulate``: what the engine would do with a job, step by step, without running anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler import sdk
from reconciler.cli.common import file_size_option
from reconciler.cli.exitcodes import NOT_CLEAN
from reconciler.cli.handler import Command, fail
from reconciler.output import render
from reconciler.render.simulation import simulation_text, warning_line


@click.command(cls=Command)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-j", "--job", "job_name", help="Name of the KusciaJob when FILE holds several.")
@click.option("--given", multiple=True, metavar="ALIAS=PHASE", help="A task that already exists in PHASE.")
@click.option(
    "--events",
    "events_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML list of events: {task: ALIAS, phase: Running|Succeeded|Failed} "
    "or {stage: Stop|Cancel|Suspend|Restart}.",
)
@click.option(
    "--fail", "fail_", multiple=True, metavar="ALIAS[,ALIAS]", help="Without --events: these tasks fail."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@file_size_option
def simulate(
    file: Path,
    job_name: str | None,
    given: tuple[str, ...],
    events_file: Path | None,
    fail_: tuple[str, ...],
    output: str,
    max_file_size: int,
) -> None:
    """Run FILE's KusciaJob through the engine's real controller with a simulated runtime.

    The job starts Running; each step applies one event and reconciles until nothing changes. Without
    --events every created task succeeds in creation order, except those named by --fail.

    FILE is validated first, as `kgitops validate` does. Exit 0 when the job does not end Failed, 1 when it
    does or when FILE is not valid (the findings are printed), 2 on a usage error or an unreadable file."""
    given_map: dict[str, str] = {}
    for g in given:
        alias, sep, phase = g.partition("=")
        if not sep or not alias:
            raise click.UsageError(f"--given {g!r}: write ALIAS=PHASE, e.g. --given psi=Succeeded")
        given_map[alias] = phase
    fails = {a.strip() for f in fail_ for a in f.split(",") if a.strip()}
    run = sdk.simulate(file, job_name, given_map, events_file, fails, max_file_size)
    if run.simulation is None:
        assert run.invalid is not None
        click.echo(render(run.invalid, "json" if output == "json" else "text"), nl=False)
        fail(f"{file} is not valid; nothing was simulated", code=NOT_CLEAN)
    if output == "json":
        click.echo(json.dumps(run.simulation.to_json(), indent=2))
    else:
        click.echo(simulation_text(run.simulation))
        for f in run.warnings:  # after the steps, on stderr: -o json stays JSON
            click.echo(warning_line(f), err=True)
    sys.stdout.flush()
    if run.failed:
        fail(f"job {run.simulation.job} ends Failed", code=NOT_CLEAN)
