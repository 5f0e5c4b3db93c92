"""The engine: Kuscia's job and task controllers over the store, driven by events.

A driver (``step`` then ``wait``, in ``run``) looks, when it starts, at every unfinished task and at the jobs
written since a driver last had nothing left to do; then only at what an event concerns: a write to the store
(its change log, ``Store.feed``; writes by this process's other threads wake the wait at once, other
processes' are seen by polling ``feed.revision()``, one integer), a process exit (the runtime's pidfds), or a
deadline that is due (a task's lifecycleSeconds, the kill grace period, a launch waiting for its AppImage). A
job awaiting approval costs nothing until someone writes to it. Work is taken in bounded batches with exits
first, so tasks finish while others still start. The sleep of ``wait``, and waking it early, is
``reconciler.engine.wakeup``.

``reconcile_once`` is the old full pass (the task controller over every unfinished task, then the job
controller over every job that still needs reconciling): ``kgitops simulate`` repeats it until nothing
changes. Whoever drives must hold the state directory's lock (``reconciler.engine.driver``)."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.engine.change_records import Change
from reconciler.engine.job_controller import JobController, Recorder
from reconciler.engine.runtime.base import Runtime
from reconciler.engine.store import Store, utc_now
from reconciler.engine.task_controller import TERMINATION_RECHECK, TaskController
from reconciler.engine.trust_settings import FixedSettings, SettingsSource
from reconciler.engine.wakeup import Wakeup
from reconciler.engine.workqueue import Urgency, WorkQueue
from reconciler.model import JobPhase, ObjectRef, TaskPhase
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.model.phases import KUSCIA_INITIALIZED, SETTLED_JOB_PHASES


def _sql_strings(values: Iterable[str]) -> str:
    """SQL string literals, ``'a', 'b'``, of phase names (which have no quote in them)."""
    return ", ".join(f"'{v}'" for v in values)


OPEN = "json_extract(status, '$.completionTime') IS NULL"
# jobs the controller still reconciles (job_controller.should_reconcile, §2.3)
RECONCILABLE = (
    f"NOT (json_extract(status, '$.phase') IN ({_sql_strings(SETTLED_JOB_PHASES)})"
    " AND json_extract(status, '$.completionTime') IS NOT NULL)"
)
ACTIVE_JOB_PHASES = (JobPhase.INITIALIZED, JobPhase.PENDING, JobPhase.RUNNING)
# jobs that progress without a person: Initialized, Pending, Running, or Failed and not yet stopped (§2.3)
ACTIVE_JOBS = (
    "coalesce(json_extract(status, '$.phase'), '')"
    f" IN ({_sql_strings(('', KUSCIA_INITIALIZED, *ACTIVE_JOB_PHASES))})"
    f" OR (json_extract(status, '$.phase') = '{JobPhase.FAILED}'"
    " AND json_extract(status, '$.completionTime') IS NULL)"
)
BATCH = 32  # reconciles between two looks at process exits and deadlines


@dataclass
class EngineMetrics:
    """Counters of the event-driven loop: full passes over the store (one when the driver starts), single
    reconciles (of one job or one task), change-feed reads, and waits."""

    full_passes: int = 0
    reconciles: int = 0
    feed_reads: int = 0
    waits: int = 0


class Engine:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        *,
        settings: SettingsSource | None = None,
        recorder: Recorder | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        """``settings``: the settings in force (``trust_settings``; default: nobody approves automatically),
        read at each automatic approval; the runtime reads its own at each launch."""
        self.store = store
        self.runtime = runtime
        self.clock = clock
        self.settings = settings or FixedSettings()
        self._settings_version: int | None = None  # the settings' version the running tasks were seen with
        self.jobs = JobController(store, clock, recorder, self.settings)
        self.tasks = TaskController(store, runtime, clock)
        self._errors: dict[ObjectRef, int] = {}
        self.metrics = EngineMetrics()
        self.batch = BATCH
        self._queue: WorkQueue[ObjectRef] = WorkQueue()
        self._revision: int | None = None  # None until the first step looked at everything
        self._marked: int | None = None  # the revision last recorded with Store.mark_processed
        self._deletions: int | None = None  # the deletions taken in, up to this revision (None: not driving)
        self._reader = uuid.uuid4().hex  # this driver's cursor in the change log
        self._task_refs: dict[str, ObjectRef] = {}  # uid -> ref
        self._job_refs: dict[str, ObjectRef] = {}  # uid -> ref
        self._task_phases: dict[str, str] = {}  # uid -> status.phase last seen in the change log
        self._collecting: set[tuple[str, str]] = set()  # (name, uid) of deleted tasks whose pods remain
        self._collect_at: float | None = None
        self._wakeup = Wakeup()
        self._driving_thread: int | None = None
        store.on_commit(self._written)

    def reconcile_once(self) -> bool:
        """One pass over everything; True if anything changed."""
        self.runtime.tick()
        changed = False
        changed |= self.runtime.collect_garbage(self.store.uids(KUSCIA_TASK))
        for ref, uid, active in self.store.watch_list():
            if active and not self.runtime.needs_attention(uid):
                continue
            changed |= self._guarded(ref, self.tasks.reconcile)
        for ref in self.store.refs(KUSCIA_JOB, where=RECONCILABLE):
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
                what = KUSCIA_JOB if ref.kind == KUSCIA_JOB else KUSCIA_TASK
                failed = JobPhase.FAILED if ref.kind == KUSCIA_JOB else TaskPhase.FAILED
                now = self.clock()
                obj.status.update(
                    phase=str(failed),
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
        """Work remains that needs no human: live processes, unfinished tasks, or jobs on their way. A few
        indexed reads, no decoding."""
        return (
            self.runtime.has_live_pods()
            or self.store.exists(KUSCIA_TASK, where=OPEN)
            or self.store.exists(KUSCIA_JOB, where=ACTIVE_JOBS)
        )

    # -- event-driven ---------------------------------------------------------------------------
    def step(self) -> bool:
        """Take in what happened (process exits, due deadlines, the store's change log), then reconcile at
        most ``batch`` objects, exits first. The first step looks at every unfinished task and live job (as
        after a crash). True if something changed or work is queued: call again before waiting."""
        self._driving_thread = threading.get_ident()
        if self._revision is None:
            self._look_at_everything()
        self._take_in()
        batch = self._queue.take(self.batch)
        changed = False
        for i, ref in enumerate(batch):
            try:
                changed |= self._reconcile(ref)
            except BaseException:
                self._queue.add_all(batch[i:], Urgency.FOLLOW_UP)  # nothing is lost to a locked database
                raise
        more = changed or len(self._queue) > 0
        if not more and self._revision != self._marked and not self._collecting:
            # everything up to the revision taken in was reconciled until nothing changed (deadlines still
            # pending belong to unfinished tasks, which every driver looks at when it starts)
            assert self._revision is not None
            self.store.feed.mark_processed(self._revision)
            self._marked = self._revision
        return more

    def wait(self, timeout: float) -> None:
        """Sleep until something may need work, ``timeout`` seconds at most: a write by another thread of this
        process, a process exit, a due deadline. Other processes' writes are seen at the next ``step`` (one
        integer read), so ``timeout`` bounds how late they are noticed."""
        if len(self._queue):
            return
        self.metrics.waits += 1
        now = time.monotonic()
        due = [now + timeout, self._queue.next_deadline(), self.runtime.next_check(), self._collect_at]
        until = min(d for d in due if d is not None)
        if until <= now:
            return
        self._wakeup.sleep(until - now, self.runtime.fileno)

    def wake(self) -> None:
        """End a ``wait`` early, or the next one if none is under way (from another thread, or a signal
        handler)."""
        self._wakeup.wake()

    def close(self) -> None:
        """Release the wait's descriptors (the runtime closes its own) and, if this engine drove, the
        deletions kept for it in the change log."""
        if self._deletions is not None:
            self._deletions = None
            # left behind, the cursor only holds deletions back until the next driver starts
            with contextlib.suppress(sqlite3.Error):
                self.store.feed.end_reading(self._reader)
        self._wakeup.close()

    def _written(self) -> None:
        if threading.get_ident() != self._driving_thread:
            self.wake()

    def _look_at_everything(self) -> None:
        """The first step: every unfinished task (its processes may have ended meanwhile), the leftover pods
        of deleted tasks, and every job written since a driver last reconciled everything (every live job if
        none did)."""
        self._revision = self.store.feed.revision()
        self._marked = self.store.feed.processed_revision()
        # deletions logged so far are collected below with everything else (every pod whose task is gone)
        self._deletions = self.store.feed.begin_reading(self._reader)
        tasks = self.store.feed.identities(KUSCIA_TASK)
        self._task_refs = {uid: ref for ref, uid in tasks}
        self._job_refs = {uid: ref for ref, uid in self.store.feed.identities(KUSCIA_JOB)}
        live = {ref.name: uid for ref, uid in tasks}
        self._collecting = {(p.task, p.task_uid) for p in self.store.pods() if live.get(p.task) != p.task_uid}
        if self._collecting:
            self._collect_at = time.monotonic()
        self._queue.add_all((ref for ref, _, _ in self.store.watch_list()), Urgency.BACKLOG)
        if self._marked is None or self._marked > self._revision:
            self.metrics.full_passes += 1
            self._queue.add_all(self.store.refs(KUSCIA_JOB, where=RECONCILABLE), Urgency.BACKLOG)
            return
        _, changes = self.store.feed.changes_since(self._marked)
        for change in changes:
            if change.ref.kind == KUSCIA_JOB:
                self._queue.add(change.ref, Urgency.BACKLOG)
            elif change.ref.kind == KUSCIA_TASK:
                self._queue_owner(change.owner, Urgency.BACKLOG)

    def _take_in(self) -> None:
        now = time.monotonic()
        version = self.settings.version()
        if version != self._settings_version:
            if self._settings_version is not None:  # trust may have been withdrawn: look at the running tasks
                self._queue.add_all((ref for ref, _, _ in self.store.watch_list()), Urgency.FOLLOW_UP)
            self._settings_version = version
        for uid in self.runtime.news():
            ref = self._task_refs.get(uid)
            if ref is not None:
                self._queue.add(ref, Urgency.EXIT)
        self._queue.add_all(self._queue.due(now), Urgency.EXIT)
        revision = self.store.feed.revision()
        if revision != self._revision:
            self.metrics.feed_reads += 1
            assert self._revision is not None
            self._revision, changes = self.store.feed.changes_since(self._revision)
            for change in changes:
                self._changed(change)
            assert self._deletions is not None
            last, gone = self.store.feed.deletions_since(self._deletions)
            if gone:
                for change in gone:
                    if change.ref.kind != KUSCIA_TASK:
                        continue
                    self._task_refs.pop(change.uid, None)
                    self._task_phases.pop(change.uid, None)
                    self._collecting.add((change.ref.name, change.uid))
                    self._queue_owner(change.owner, Urgency.FOLLOW_UP)
                    self._collect_at = now
                self.store.feed.mark_deletions_read(self._reader, last)
                self._deletions = last
        if self._collect_at is not None and self._collect_at <= now:
            self.runtime.collect_garbage(self.store.uids(KUSCIA_TASK))
            self._collecting = {
                (name, uid)
                for name, uid in self._collecting
                if any(p.task_uid == uid for p in self.store.pods(name))
            }
            self._collect_at = now + TERMINATION_RECHECK if self._collecting else None

    def _changed(self, change: Change) -> None:
        if change.ref.kind == KUSCIA_JOB:
            self._job_refs[change.uid] = change.ref
            self._queue.add(change.ref, Urgency.FOLLOW_UP)
        elif change.ref.kind == KUSCIA_TASK:
            self._task_refs[change.uid] = change.ref
            self._queue.add(change.ref, Urgency.FOLLOW_UP)
            # the job controller reads its tasks' phases (and a failed one's message, written with the phase):
            # a task write that leaves the phase as it was (launched, a pod started, completionTime) is not
            # the job's business
            if self._task_phases.get(change.uid) != change.phase:
                self._task_phases[change.uid] = change.phase
                self._queue_owner(change.owner, Urgency.FOLLOW_UP)

    def _queue_owner(self, uid: str, urgency: Urgency) -> None:
        if not uid:
            return
        ref = self._job_refs.get(uid)
        if ref is None:
            self._job_refs = {u: r for r, u in self.store.feed.identities(KUSCIA_JOB)}
            ref = self._job_refs.get(uid)
        if ref is not None:
            self._queue.add(ref, urgency)

    def _reconcile(self, ref: ObjectRef) -> bool:
        self.metrics.reconciles += 1
        if ref.kind == KUSCIA_TASK:
            changed = self._guarded(ref, self.tasks.reconcile)
            rechecks = self.tasks.take_rechecks()
            if rechecks:
                now = time.monotonic()
                for task, seconds in rechecks.items():
                    self._queue.after(task, now + seconds)
        else:
            changed = self._guarded(ref, self.jobs.reconcile)
        if ref in self._errors:  # Kuscia's retry of a failed handler (§2.4): at once, as a pass would
            self._queue.add(ref, Urgency.FOLLOW_UP)
        return changed

    def run(
        self,
        stop: threading.Event | None = None,
        until: Callable[[], bool] | None = None,
        until_idle: bool = False,
        timeout: float | None = None,
        idle_interval: float = 0.1,
    ) -> bool:
        """Drive (``step``, and ``wait`` when nothing is queued) until ``stop`` is set, ``until()`` holds, the
        engine is idle (``until_idle``: nothing queued and ``busy()`` false), or the timeout (seconds).
        ``idle_interval``: the longest wait, so other processes' writes are seen that late at most.

        Returns True if it ended because ``until()`` held or the engine went idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                more = self.step()
            except sqlite3.OperationalError as exc:  # e.g. the database stayed locked: try again shortly
                print(f"kgitops engine: {exc}; retrying", file=sys.stderr)
                more = False
            if until is not None and until():
                return True
            if until_idle and not more and not self.busy():
                return True
            if stop is not None and stop.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if more:
                continue
            pause = idle_interval if deadline is None else min(idle_interval, deadline - time.monotonic())
            self.wait(max(0.0, pause))
