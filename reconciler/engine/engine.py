"""One engine pass = the task controller over every unfinished task, then the job controller over every
job that still needs reconciling. A driver repeats passes; ``kgitops simulate`` repeats them until nothing
changes. Whoever drives must hold the state directory's lock (``reconciler.engine.driver``)."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable

from reconciler.engine.job_controller import JobController, Recorder
from reconciler.engine.runtime.base import Runtime
from reconciler.engine.store import Store, utc_now
from reconciler.engine.task_controller import TaskController
from reconciler.model import JobPhase, ObjectRef, TaskPhase

OPEN = "json_extract(status, '$.completionTime') IS NULL"
RECONCILABLE = (
    "NOT (json_extract(status, '$.phase') IN ('Succeeded', 'ApprovalReject', 'Cancelled')"
    " AND json_extract(status, '$.completionTime') IS NOT NULL)"
)
ACTIVE_JOB_PHASES = (JobPhase.INITIALIZED, JobPhase.PENDING, JobPhase.RUNNING)


class Engine:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        *,
        auto_approve: Iterable[str] = (),
        recorder: Recorder | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.clock = clock
        self.jobs = JobController(store, clock, recorder, auto_approve)
        self.tasks = TaskController(store, runtime, clock)
        self._errors: dict[ObjectRef, int] = {}

    def reconcile_once(self) -> bool:
        """One pass over everything; True if anything changed."""
        self.runtime.tick()
        changed = False
        changed |= self.runtime.collect_garbage(self.store.uids("KusciaTask"))
        for ref, uid, active in self.store.watch_list():
            if active and not self.runtime.needs_attention(uid):
                continue
            changed |= self._guarded(ref, self.tasks.reconcile)
        for ref in self.store.refs("KusciaJob", where=RECONCILABLE):
            changed |= self._guarded(ref, self.jobs.reconcile)
        return changed

    def _guarded(self, ref: ObjectRef, reconcile: Callable[[ObjectRef], bool]) -> bool:
        """Kuscia's retry rule (§2.4, §8): a handler error is retried 3 times, then the object is Failed."""
        try:
            changed = reconcile(ref)
        except (sqlite3.OperationalError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - any handler bug must fail one object, not the engine
            n = self._errors.get(ref, 0) + 1
            self._errors[ref] = n
            if n <= 3:
                return True
            self._errors.pop(ref, None)
            with self.store.transaction():
                obj = self.store.get(ref)
                if obj is None:
                    return False
                what = "KusciaJob" if ref.kind == "KusciaJob" else "KusciaTask"
                now = self.clock()
                obj.status.update(
                    phase="Failed",
                    message=f"{what} failed after 3x retry, last error: {type(exc).__name__}: {exc}",
                    completionTime=now,
                    lastReconcileTime=now,
                )
                obj.status.setdefault("startTime", now)
                self.store.put(obj)
            return True
        self._errors.pop(ref, None)
        return changed

    def settle(self, max_passes: int = 10_000) -> int:
        """Reconcile until nothing changes; returns the number of passes that changed something."""
        n = 0
        while n < max_passes and self.reconcile_once():
            n += 1
        return n

    def busy(self) -> bool:
        """Work remains that needs no human: live processes, unfinished tasks, or jobs on their way."""
        if self.runtime.has_live_pods():
            return True
        for t in self.store.list("KusciaTask", where=OPEN):
            if not TaskPhase.parse(t.status.get("phase")).is_final or not t.status.get("completionTime"):
                return True
        for j in self.store.list("KusciaJob", where=RECONCILABLE):
            phase = JobPhase.parse(j.status.get("phase"))
            if phase in ACTIVE_JOB_PHASES or (
                phase is JobPhase.FAILED and not j.status.get("completionTime")
            ):
                return True
        return False

    def run(
        self,
        stop: threading.Event | None = None,
        until: Callable[[], bool] | None = None,
        until_idle: bool = False,
        timeout: float | None = None,
        interval: float = 0.005,
        idle_interval: float = 0.2,
    ) -> bool:
        """Drive passes until ``stop`` is set, ``until()`` holds, the engine is idle, or the timeout.

        Returns True if it ended because ``until()`` held or the engine went idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                changed = self.reconcile_once()
            except sqlite3.OperationalError as exc:  # e.g. the database stayed locked: try again shortly
                print(f"kgitops engine: {exc}; retrying", file=sys.stderr)
                changed = False
            if until is not None and until():
                return True
            if until_idle and not changed and not self.busy():
                return True
            if stop is not None and stop.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if changed:
                continue
            pause = interval if self.runtime.has_live_pods() else idle_interval
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
