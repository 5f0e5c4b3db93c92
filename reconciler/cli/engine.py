"""``kgitops engine run`` drives the embedded engine; ``kgitops engine status`` says who drives it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.backends.local import LocalBackend
from reconciler.cli.common import read_config
from reconciler.engine.driver import AlreadyDriven, DriverSettings, drive
from reconciler.engine.store import DB_NAME


def _backend(
    config_path: str | None,
    state_dir: str | None,
    trust: tuple[str, ...],
    auto_approve: tuple[str, ...],
    workspace: str | None,
    autostart: bool,
    kill_grace: float | None = None,
    must_exist: bool = False,
) -> LocalBackend:
    cfg = read_config(config_path)
    state = state_dir or cfg.state_dir
    if must_exist and not (Path(state) / DB_NAME).is_file():
        raise click.ClickException(
            f"no engine state in {Path(state).resolve()}: nothing has been created there yet "
            "(pass --state-dir, or run kgitops in the directory that holds .kgitops)"
        )
    return LocalBackend(
        state,
        trusted_appimages=[*cfg.engine.trusted_appimages, *trust],
        auto_approve=[*cfg.engine.auto_approve, *auto_approve],
        workspace=workspace or (cfg.base_dir if config_path or cfg.base_dir != "." else None),
        kill_grace_seconds=cfg.engine.kill_grace_seconds if kill_grace is None else kill_grace,
        autostart=autostart,
    )


_common = [
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="kgitops.yaml (default: ./kgitops.yaml).",
    ),
    click.option(
        "--state-dir", envvar="KGITOPS_STATE_DIR", help="Engine state directory (default .kgitops)."
    ),
]


def common(f):  # type: ignore[no-untyped-def]
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.group()
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
@click.option("--timeout", type=click.FloatRange(0), default=None, help="Stop after this many seconds.")
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
    cfg = read_config(config_path)
    settings = DriverSettings(
        state_dir=Path(state_dir or cfg.state_dir),
        trusted=(*cfg.engine.trusted_appimages, *trust),
        auto_approve=(*cfg.engine.auto_approve, *auto_approve),
        workspace=Path(workspace or (cfg.base_dir if config_path or cfg.base_dir != "." else ".")),
        kill_grace_seconds=cfg.engine.kill_grace_seconds if kill_grace is None else kill_grace,
        until_idle=until_idle,
        timeout=timeout,
    )
    where = settings.state_dir.resolve()

    def started(pid: int) -> None:
        click.echo(f"driving the engine in {where} (pid {pid})", err=True)

    try:
        drive(settings, on_start=started)
    except AlreadyDriven as exc:
        if until_idle:
            click.echo(f"engine already driven by pid {exc.pid}; nothing to do", err=True)
            return
        raise click.ClickException(str(exc)) from None


@engine.command("status")
@common
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(config_path: str | None, state_dir: str | None, output: str) -> None:
    """Who drives the engine, jobs and tasks by phase, live processes."""
    from reconciler.engine.driver import driver_pid

    backend = _backend(config_path, state_dir, (), (), None, autostart=False, must_exist=True)
    try:
        info = backend.engine_status()
        info["driver_pid"] = driver_pid(backend.state_dir)
    finally:
        backend.store.close()
    if output == "json":
        click.echo(json.dumps(info, indent=2))
        return
    pid = info["driver_pid"]
    click.echo(f"state dir: {info['state_dir']}")
    click.echo(f"driver:    {'pid ' + str(pid) if pid else 'none'}")
    jobs = info["jobs"]
    tasks = info["tasks"]
    assert isinstance(jobs, dict) and isinstance(tasks, dict)
    click.echo("jobs:      " + (", ".join(f"{k}={v}" for k, v in sorted(jobs.items())) or "none"))
    click.echo("tasks:     " + (", ".join(f"{k}={v}" for k, v in sorted(tasks.items())) or "none"))
    procs = info["live_processes"]
    assert isinstance(procs, list)
    click.echo(f"processes: {len(procs)} live")
    for p in procs:
        click.echo(f"  {p['task']} {p['pod']} pid {p['pid']} ({p['state']})")
    if info.get("notice"):
        click.echo(f"warning: {info['notice']}")
