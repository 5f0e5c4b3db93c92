"""The embedded engine (the ``local`` backend): drive its controllers in this process, and read who drives
it and what it holds. Errors are ``EngineError`` (a ``KgitopsError``, exit 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.config import Config
from reconciler.errors import KgitopsError

if TYPE_CHECKING:
    from reconciler.backends.local import LocalBackend

__all__ = ["EngineError", "EngineSettings", "EngineStatus", "engine_status", "run_engine"]


class EngineError(KgitopsError):
    """The engine cannot be driven or read here (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class EngineSettings:
    """Overrides of the ``engine`` section for one driver: ``state_dir`` (default ``engine.state_dir``),
    extra ``trust`` globs of AppImages, extra ``auto_approve`` domains, the ``workspace`` directory given to
    task processes as ``KGITOPS_WORKSPACE``, and ``kill_grace`` seconds between SIGTERM and SIGKILL."""

    state_dir: str | None = None
    trust: tuple[str, ...] = ()
    auto_approve: tuple[str, ...] = ()
    workspace: str | None = None
    kill_grace: float | None = None


def _backend(cfg: Config, s: EngineSettings, autostart: bool, must_exist: bool = False) -> LocalBackend:
    from reconciler.backends.local import LocalBackend, state_exists

    state = s.state_dir or cfg.state_dir
    if must_exist and not state_exists(state):
        raise EngineError(
            f"no engine state in {Path(state).resolve()}: nothing has been created there yet",
            hint="pass --state-dir, or run kgitops in the directory that holds .kgitops",
        )
    return LocalBackend(
        state,
        trusted_appimages=[*cfg.engine.trusted_appimages, *s.trust],
        auto_approve=[*cfg.engine.auto_approve, *s.auto_approve],
        workspace=s.workspace or (cfg.base_dir if cfg.file or cfg.base_dir != "." else None),
        kill_grace_seconds=cfg.engine.kill_grace_seconds if s.kill_grace is None else s.kill_grace,
        autostart=autostart,
    )


def run_engine(
    cfg: Config,
    settings: EngineSettings | None = None,
    until_idle: bool = False,
    timeout: float | None = None,
    on_start: Callable[[str, int | None], None] | None = None,
) -> bool:
    """Drive the engine's controllers in this process (one driver per state directory) until SIGTERM or
    SIGINT, ``timeout`` seconds, or (``until_idle``) no job can progress without a human. Task processes are
    children of this process; the next driver adopts those still running. ``cfg``'s ``engine`` settings
    become the settings in force (``reconciler.engine.trust_settings``), which every later command that
    writes replaces with its own; the driver decides with those in force at each decision, plus the extra
    ``trust``/``auto_approve`` of ``settings``. ``on_start`` gets the state
    directory and this driver's pid. Returns False when another process already drives the engine and
    ``until_idle`` is set (nothing to do); without ``until_idle`` that raises ``EngineError``."""
    from reconciler.engine.driver import AlreadyDriven, DriverSettings, drive
    from reconciler.engine.trust_settings import TrustSettings

    s = settings or EngineSettings()
    driver = DriverSettings(
        state_dir=Path(s.state_dir or cfg.state_dir),
        # kgitops.yaml's settings become the settings in force; later commands may change them, and this
        # driver follows; --trust and --auto-approve are this driver's own, for as long as it runs
        publish=TrustSettings.of(cfg.engine.trusted_appimages, cfg.engine.auto_approve),
        extra=TrustSettings.of(s.trust, s.auto_approve),
        workspace=Path(s.workspace or (cfg.base_dir if cfg.file or cfg.base_dir != "." else ".")),
        kill_grace_seconds=cfg.engine.kill_grace_seconds if s.kill_grace is None else s.kill_grace,
        until_idle=until_idle,
        timeout=timeout,
    )
    where = str(driver.state_dir.resolve())
    try:
        drive(driver, on_start=None if on_start is None else lambda pid: on_start(where, pid))
    except AlreadyDriven as exc:
        if until_idle:
            return False
        raise EngineError(str(exc)) from None
    return True


@dataclass(frozen=True)
class EngineStatus:
    """``state_dir``; ``driver_pid`` (None: nobody drives it); ``jobs`` and ``tasks``: counts by phase;
    ``live_processes``: task, pod, pid and state of each; ``notice``: why work waits, or ""."""

    state_dir: str
    driver_pid: int | None
    jobs: dict[str, int]
    tasks: dict[str, int]
    live_processes: list[dict[str, Any]] = field(default_factory=list)
    notice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir,
            "driver_pid": self.driver_pid,
            "jobs": self.jobs,
            "tasks": self.tasks,
            "live_processes": self.live_processes,
            "notice": self.notice,
        }


def engine_status(cfg: Config, state_dir: str | None = None) -> EngineStatus:
    """Who drives the engine of ``state_dir`` (default ``engine.state_dir``), its jobs and tasks by phase and
    its live processes. Raises ``EngineError`` when there is no engine state there."""
    from reconciler.engine.driver import driver_pid

    backend = _backend(cfg, EngineSettings(state_dir=state_dir), autostart=False, must_exist=True)
    try:
        info: dict[str, Any] = backend.engine_status()
    finally:
        backend.store.close()
    return EngineStatus(
        state_dir=str(info["state_dir"]),
        driver_pid=driver_pid(backend.state_dir),
        jobs=dict(info["jobs"]),
        tasks=dict(info["tasks"]),
        live_processes=list(info["live_processes"]),
        notice=str(info.get("notice") or ""),
    )
