"""Driving the embedded engine from a ``LocalBackend``: the state directory's engine lock, the controllers
(``engine.engine.Engine``) and the tasks' processes (``engine.runtime.process``), each made on first use so a
read never loads them; one engine step at a time (``step``), the engine's wait between steps (``rest``), and
handing work to a background driver after a write (``kick``, ``engine.driver.ensure_driver``). The
backend's settings (trust, automatic approvals) are published as the settings in force before its first
write (``publish_settings``) and held while it drives (``drive``; ``engine.trust_settings``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.backends.base import Backend, NotFound
from reconciler.engine.store import Store
from reconciler.model import JobPhase, ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB

if TYPE_CHECKING:  # the controllers, the process runtime and the settings in force: loaded by the first
    # pass or write that needs them (a read, such as `kgitops job list`, never does)
    from reconciler.engine.driver import EngineLock
    from reconciler.engine.engine import Engine
    from reconciler.engine.runtime.process import ProcessRuntime
    from reconciler.engine.trust_settings import TrustSettings


class LocalDriving(Backend):
    """The engine-driving part of ``LocalBackend`` (which sets every attribute declared here)."""

    store: Store
    state_dir: Path
    settings: TrustSettings | None  # None: publish nothing, decide with the settings in force
    _published: bool
    _holding: bool
    workspace: Path
    kill_grace: float
    readonly: bool
    autostart: bool
    _engine_lock: EngineLock | None
    _runtime: ProcessRuntime | None
    _engine: Engine | None

    @property
    def lock(self) -> EngineLock:
        """The state directory's engine lock (``engine.driver``, loaded with it: ``job list`` never is)."""
        if self._engine_lock is None:
            from reconciler.engine.driver import EngineLock

            self._engine_lock = EngineLock(self.state_dir)
        return self._engine_lock

    def _drives(self) -> bool:
        """Whether this process holds the engine lock (without making the lock to ask)."""
        return self._engine_lock is not None and self._engine_lock.held

    @property
    def runtime(self) -> ProcessRuntime:
        """The local processes of the tasks (made on first use: a read never needs it)."""
        if self._runtime is None:
            from reconciler.engine.runtime.process import ProcessRuntime
            from reconciler.engine.trust_settings import StoredSettings

            self._runtime = ProcessRuntime(
                self.store, self.state_dir, StoredSettings(self.store), self.workspace, self.kill_grace
            )
        return self._runtime

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from reconciler.engine.engine import Engine
            from reconciler.engine.trust_settings import StoredSettings

            self._engine = Engine(self.store, self.runtime, settings=StoredSettings(self.store))
        return self._engine

    def publish_settings(self) -> None:
        """Make this backend's trust and automatic approvals the settings in force (once; ``_writable`` does
        it before the first write). Raises ``SettingsConflict`` while another command drives the engine with
        other settings that it keeps (``reconciler.engine.trust_settings``)."""
        if self._published or self.readonly or self.settings is None:
            return
        from reconciler.engine.driver import driver_identity
        from reconciler.engine.trust_settings import publish

        publish(self.store, self.settings, driver_identity(self.state_dir))
        self._published = True

    def drive(self) -> bool:
        """Take the engine lock if free; True if this process now drives the controllers (never when
        read-only). Taking it, the backend holds its settings as the settings in force for as long as it
        drives: other commands with other settings are refused meanwhile."""
        if self.readonly or not self.lock.acquire():
            return False
        if not self._holding and self.settings is not None:
            from reconciler.engine.trust_settings import Holder, publish

            held = Holder.of_this_process(self.lock.token)
            publish(self.store, self.settings, (held.pid, held.token), held)
            self._holding = self._published = True
        return True

    def step(self) -> bool:
        """One engine step if this process drives (taking the lock if free): what happened since the last
        one, and a bounded batch of work (``Engine.step``). True if something changed or work is queued."""
        if not self.drive():
            return False
        return self.engine.step()

    poll_interval = 0.05

    def rest(self, seconds: float, wake: threading.Event) -> None:
        """Driving: the engine's wait (a process exit, a due deadline or another thread's write ends it
        early). Else: ``seconds``, or until ``wake`` is set."""
        if self._drives() and not wake.is_set():
            self.engine.wait(seconds)
        else:
            wake.wait(seconds)

    def wake(self) -> None:
        """End the engine's wait under way (``rest`` while driving), or the next one; any thread."""
        engine = self._engine
        if engine is not None:
            engine.wake()

    def wait_for_job(self, name: str, namespace: str | None = None, timeout: float | None = None) -> Resource:
        """Drive/wait until the job reaches a final phase (or Suspended/AwaitingApproval); returns it."""
        ref = ObjectRef.of(KUSCIA_JOB, name, namespace)

        def settled() -> bool:
            job = self.store.get(ref)
            if job is None:
                raise NotFound(f"job {name} does not exist")
            phase = JobPhase.parse(job.status.get("phase"))
            return (phase.is_final and bool(job.status.get("completionTime"))) or phase in (
                JobPhase.SUSPENDED,
                JobPhase.AWAITING_APPROVAL,
            )

        self.run_until(settled, timeout)
        job = self.store.get(ref)
        if job is None:
            raise NotFound(f"job {name} does not exist")
        return job

    def kick(self) -> None:
        """After a write: make sure some process will act on it."""
        if self.autostart and not self._drives():
            from reconciler.engine.driver import ensure_driver

            ensure_driver(self.state_dir, self.workspace, self.kill_grace)

    def driver_notice(self) -> str:
        """ "" when a process drives the engine, else what to tell the user."""
        from reconciler.engine.driver import idle_notice

        return "" if self._drives() else idle_notice(self.state_dir)

    def driver_pid(self) -> int | None:
        from reconciler.engine.driver import driver_pid

        return os.getpid() if self._drives() else driver_pid(self.state_dir)
