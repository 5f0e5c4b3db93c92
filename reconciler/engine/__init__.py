"""The embedded engine: Kuscia's KusciaJob/KusciaTask controllers on one machine (SQLite store, local
processes). Most callers want ``reconciler.backends.local.LocalBackend``; the pieces are public for tests,
``kgitops simulate`` and the benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

if TYPE_CHECKING:
    from reconciler.engine.driver import EngineLock, driver_pid, ensure_driver, idle_notice
    from reconciler.engine.engine import Engine
    from reconciler.engine.scheduler import Decision, schedule, view_phases
    from reconciler.engine.store import Store

# Loaded when first asked for, so that a reader of one piece (``engine.store`` for ``job list``) does not load
# the controllers and the process runtime.
_HOMES = {
    "EngineLock": "driver",
    "driver_pid": "driver",
    "ensure_driver": "driver",
    "idle_notice": "driver",
    "Engine": "engine",
    "Decision": "scheduler",
    "schedule": "scheduler",
    "view_phases": "scheduler",
    "Store": "store",
}


__getattr__ = lazy_exports(__name__, _HOMES, globals())


def open_engine(
    state_dir: str | Path,
    trusted: list[str] | tuple[str, ...] = (),
    auto_approve: list[str] | tuple[str, ...] = (),
    workspace: str | Path | None = None,
    grace_seconds: float = 5.0,
) -> Engine:
    """An engine with the process runtime over ``<state_dir>/engine.db`` (the caller must hold the lock),
    deciding with these settings only (``trust_settings.FixedSettings``), whatever commands publish."""
    from reconciler.engine.engine import Engine
    from reconciler.engine.runtime.process import ProcessRuntime
    from reconciler.engine.store import Store
    from reconciler.engine.trust_settings import FixedSettings, TrustSettings

    store = Store.open(state_dir)
    fixed = FixedSettings(TrustSettings.of(trusted, auto_approve))
    runtime = ProcessRuntime(store, Path(state_dir), fixed, Path(workspace or Path.cwd()), grace_seconds)
    return Engine(store, runtime, settings=fixed)


__all__ = [
    "Decision",
    "Engine",
    "EngineLock",
    "Store",
    "driver_pid",
    "ensure_driver",
    "idle_notice",
    "open_engine",
    "schedule",
    "view_phases",
]
