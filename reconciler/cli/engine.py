"""``kgitops engine run`` drives the embedded engine; ``kgitops engine status`` says who drives it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler import sdk
from reconciler.cli.common import DURATION, cli_config, output_option
from reconciler.cli.handler import Group

F = TypeVar("F", bound=Callable[..., Any])


def common(f: F) -> F:
    f = click.option(
        "--state-dir", envvar="KGITOPS_STATE_DIR", help="Engine state directory (default .kgitops)."
    )(f)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="KGITOPS_CONFIG",
        help="Config file (default: ./kgitops.yaml if present).",
    )(f)


@click.group(cls=Group)
def engine() -> None:
    """The embedded engine (local backend): run its controllers, see its state."""


@engine.command("run")
@common
@click.option("--until-idle", is_flag=True, help="Exit once no job can progress without a human.")
@click.option("--trust", multiple=True, metavar="PATTERN", help="Also trust AppImages matching this glob.")
@click.option(
    "--auto-approve", multiple=True, metavar="DOMAIN", help="Accept jobs for this domain automatically."
)
@click.option("--workspace", type=click.Path(file_okay=False), help="KGITOPS_WORKSPACE for the processes.")
@click.option("--timeout", type=DURATION, default=None, help="Stop after this long: 600, 90s, 10m, 1h30m.")
@click.option(
    "--kill-grace", type=click.FloatRange(0, 3600), default=None, help="Seconds between SIGTERM and SIGKILL."
)
def run(
    config_path: str | None,
    state_dir: str | None,
    until_idle: bool,
    trust: tuple[str, ...],
    auto_approve: tuple[str, ...],
    workspace: str | None,
    timeout: float | None,
    kill_grace: float | None,
) -> None:
    """Drive the engine's controllers in this process (one driver per state directory).

    Processes of the tasks run as children of this command; stop it with Ctrl-C (the next driver adopts
    the processes that are still running)."""
    settings = sdk.EngineSettings(state_dir, trust, auto_approve, workspace, kill_grace)

    def started(state: str, pid: int | None) -> None:
        click.echo(f"driving the engine in {state} (pid {pid})", err=True)

    if not sdk.run_engine(cli_config(config_path), settings, until_idle, timeout, on_start=started):
        click.echo("the engine is already driven by another process; nothing to do", err=True)


@engine.command("status")
@common
@output_option(("text", "json"))
def status(config_path: str | None, state_dir: str | None, output: str) -> None:
    """Who drives the engine, jobs and tasks by phase, live processes."""
    info = sdk.engine_status(cli_config(config_path), state_dir)
    if output == "json":
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    pid = info.driver_pid
    click.echo(f"state dir: {info.state_dir}")
    click.echo(f"driver:    {'pid ' + str(pid) if pid else 'none'}")
    click.echo("jobs:      " + (", ".join(f"{k}={v}" for k, v in sorted(info.jobs.items())) or "none"))
    click.echo("tasks:     " + (", ".join(f"{k}={v}" for k, v in sorted(info.tasks.items())) or "none"))
    click.echo(f"processes: {len(info.live_processes)} live")
    for p in info.live_processes:
        click.echo(f"  {p['task']} {p['pod']} pid {p['pid']} ({p['state']})")
    if info.notice:
        click.echo(f"warning: {info.notice}")
