"""The default backend: the embedded engine over a state directory (SQLite store + local processes).

Writes go straight to the store; the controllers run in whichever process holds the state directory's
engine lock. ``run_until`` drives the engine in-process while waiting (``sync --wait``, ``watch``,
``serve``); plain writes call ``ensure_driver`` so a background driver picks the work up.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import threading
import time
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Capabilities,
    LiveChanges,
    NotFound,
    PhaseError,
    parse_stage,
)
from reconciler.backends.pages import Page, PageRequest, TaskPageRequest, marker_name, name_marker
from reconciler.config import Config, EngineConfig
from reconciler.engine import store_pages
from reconciler.engine.store import DB_NAME, Store, StoreError
from reconciler.kuscia.stages import APPROVAL_PHASES, kusciaapi_refusal
from reconciler.model import KINDS, JobPhase, ObjectRef, Resource, Stage
from reconciler.model.objects import plain_copy

if TYPE_CHECKING:  # the controllers and the process runtime: loaded by the first pass that needs them
    from reconciler.engine.driver import EngineLock
    from reconciler.engine.engine import Engine
    from reconciler.engine.runtime.process import ProcessRuntime


def state_exists(state_dir: str | Path) -> bool:
    """True when ``state_dir`` holds an engine store (something was synced or created there)."""
    return (Path(state_dir) / DB_NAME).is_file()


class LocalBackend(Backend):
    name = "local"
    capabilities = Capabilities(logs=True, engine_in_process=True, delete_ends_tasks=True, change_feed=True)

    def __init__(
        self,
        state_dir: str | Path,
        *,
        trusted_appimages: list[str] | tuple[str, ...] = (),
        auto_approve: list[str] | tuple[str, ...] = (),
        workspace: str | Path | None = None,
        kill_grace_seconds: float = 5.0,
        autostart: bool = True,
        readonly: bool = False,
    ) -> None:
        """``readonly``: for commands that only look (``job list``, ``diff``, ...): nothing is created on
        disk (a state directory without an engine store reads as an empty engine), no driver is started and
        this process never drives; a write raises BackendError."""
        self.state_dir = Path(state_dir).resolve()
        self.trusted = list(trusted_appimages)
        self.auto_approve = list(auto_approve)
        self.workspace = Path(workspace).resolve() if workspace else Path.cwd()
        self.readonly = readonly
        self.autostart = autostart and not readonly
        self.kill_grace = kill_grace_seconds
        self.exists = state_exists(self.state_dir)
        if readonly and not self.exists:
            present = next(p for p in (self.state_dir, *self.state_dir.parents) if p.exists())
            if not present.is_dir():
                raise BackendError(
                    f"cannot read the engine state {self.state_dir}: {present} is not a directory"
                )
        self.store = Store.open(self.state_dir) if self.exists or not readonly else Store(":memory:")
        if not readonly:  # a read-only open changes nothing: its pages are right without the index too
            store_pages.ensure_indexes(self.store)
        self._engine_lock: EngineLock | None = None  # made on first use: a read-only open never takes it
        self._runtime: ProcessRuntime | None = None
        self._engine: Engine | None = None
        self._closed = False

    @classmethod
    def from_config(cls, config: Config, readonly: bool = False) -> LocalBackend:
        eng: EngineConfig = config.engine
        base = Path(config.base_dir).resolve()
        return cls(
            config.state_dir,
            trusted_appimages=eng.trusted_appimages,
            auto_approve=eng.auto_approve,
            workspace=base,
            kill_grace_seconds=eng.kill_grace_seconds,
            autostart=eng.autostart,
            readonly=readonly,
        )

    def _writable(self, what: str) -> None:
        if self.readonly:
            raise BackendError(f"cannot {what}: the local engine at {self.state_dir} was opened read-only")

    # -- driving the engine -------------------------------------------------------------
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

            self._runtime = ProcessRuntime(
                self.store, self.state_dir, self.trusted, self.workspace, self.kill_grace
            )
        return self._runtime

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from reconciler.engine.engine import Engine

            self._engine = Engine(self.store, self.runtime, auto_approve=self.auto_approve)
        return self._engine

    def drive(self) -> bool:
        """Take the engine lock if free; True if this process now drives the controllers (never when
        read-only)."""
        return not self.readonly and self.lock.acquire()

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
        ref = ObjectRef.of("KusciaJob", name, namespace)

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

            ensure_driver(self.state_dir, self.trusted, self.auto_approve, self.workspace, self.kill_grace)

    def driver_notice(self) -> str:
        """ "" when a process drives the engine, else what to tell the user."""
        from reconciler.engine.driver import idle_notice

        return "" if self._drives() else idle_notice(self.state_dir)

    def driver_pid(self) -> int | None:
        from reconciler.engine.driver import driver_pid

        return os.getpid() if self._drives() else driver_pid(self.state_dir)

    # -- objects --------------------------------------------------------------------------
    def _create(self, obj: Resource) -> Resource:
        return self._insert(obj, "")

    def _create_managed(self, obj: Resource, source_id: str) -> Resource:
        """The object and its inventory entry in one SQLite transaction: a kill -9 leaves both or neither."""
        return self._insert(obj, source_id)

    def _insert(self, obj: Resource, inventory: str) -> Resource:
        self._writable(f"create {obj.ref}")
        if obj.kind not in KINDS:
            raise BackendError(f"the local engine stores {', '.join(KINDS)}, not {obj.kind!r}")
        if not obj.name:
            raise BackendError(f"a {obj.kind} needs metadata.name")
        new = dataclasses.replace(
            obj,
            labels=dict(obj.labels),
            annotations=dict(obj.annotations),
            spec=plain_copy(obj.spec),
            status={},
            resource_version="",
            uid="",
            creation_timestamp="",
        )
        try:
            stored = self.store.create(new, inventory=inventory)
        except StoreError:
            raise AlreadyExists(f"{obj.ref} already exists") from None
        stored.origin = obj.origin
        if obj.kind != "AppImage":
            self.kick()
        return stored

    def _update(self, obj: Resource) -> Resource:
        self._writable(f"update {obj.ref}")
        with self.store.transaction():
            current = self.store.get(obj.ref)
            if current is None:
                raise NotFound(f"{obj.ref} does not exist")
            current.spec = plain_copy(obj.spec)
            current.labels = dict(obj.labels)
            current.annotations = dict(obj.annotations)
            return self.store.put(current)

    def get(self, ref: ObjectRef) -> Resource | None:
        return self.store.get(ref)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> builtins.list[Resource]:
        return self.store.list(kind, namespace, labels)

    def list_jobs(self, page: PageRequest) -> Page:
        """A page straight from SQL (``engine.store_pages``): the primary key's index range after the
        marker's name, the filters in SQL, only the page's jobs decoded."""
        after = marker_name(page.marker)
        selection = store_pages.JobSelection(page.phases, page.initiator, page.labels)
        timed = page.updated_after is not None or page.started_after is not None
        items, more = store_pages.job_page(
            self.store, page.namespace, after, page.limit, selection, page.times_match if timed else None
        )
        return Page(items, name_marker(items[-1].name) if more and items else None)

    def job_names(self, namespace: str) -> builtins.list[str]:
        return store_pages.job_names(self.store, namespace)

    def list_tasks(self, page: TaskPageRequest) -> Page:
        """A page straight from SQL, as for jobs (``engine.store_pages.task_page``)."""
        items, more = store_pages.task_page(
            self.store, page.namespace, marker_name(page.marker), page.limit, page.phases
        )
        return Page(items, name_marker(items[-1].name) if more and items else None)

    def task_names(self, namespace: str) -> builtins.list[str]:
        return store_pages.task_names(self.store, namespace)

    def changes(self, kind: str, since: str = "", labels: Mapping[str, str] | None = None) -> LiveChanges:
        """From the store's change log (``Store.feed``, ``engine/changelog.py``): one indexed query for what
        changed."""
        found = self.store.feed.changes(kind, int(since) if since.isdigit() else None)
        changed, removed = found.changed, list(found.removed)
        if labels:
            wanted = [o for o in changed if all(o.labels.get(k) == v for k, v in labels.items())]
            if not found.complete:
                kept = {id(o) for o in wanted}
                removed += [o.ref for o in changed if id(o) not in kept]
            changed = wanted
        return LiveChanges(str(found.version), found.complete, changed, removed)

    def delete(self, ref: ObjectRef) -> None:
        self._writable(f"delete {ref}")
        names: set[str] = set()
        with self.store.transaction():
            obj = self.store.get(ref)
            if obj is None:
                raise NotFound(f"{ref} does not exist")
            if obj.kind == "KusciaJob":
                for t in self.store.list("KusciaTask", namespace=obj.namespace, owner=obj.uid):
                    self.store.delete(t.ref)
                    names.add(t.name)
            elif obj.kind == "KusciaTask":
                names.add(obj.name)
            self.store.delete(ref)
        if not names:
            return
        # the processes of deleted tasks: collected here if no other process drives, else by the driver
        if self.drive():
            deadline = time.monotonic() + 10
            while any(p.task in names for p in self.store.pods()) and time.monotonic() < deadline:
                self.runtime.tick()
                if not self.runtime.collect_garbage(self.store.uids("KusciaTask")):
                    time.sleep(0.02)
            self.runtime.purge(names)

    def _update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        self._writable(f"update {ref}")
        with self.store.transaction():
            obj = self.store.get(ref)
            if obj is None:
                raise NotFound(f"{ref} does not exist")
            for target, changes in ((obj.labels, labels), (obj.annotations, annotations)):
                for k, v in (changes or {}).items():
                    if v is None:
                        target.pop(k, None)
                    else:
                        target[k] = v
            return self.store.put(obj)

    # -- job commands ---------------------------------------------------------------------
    def _job(self, ref: ObjectRef) -> Resource:
        if ref.kind != "KusciaJob":
            raise BackendError(f"{ref} is not a KusciaJob; stage commands and approvals apply to jobs")
        job = self.store.get(ref)
        if job is None:
            raise NotFound(f"job {ref.name} does not exist")
        return job

    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        """Write the stage command, with KusciaAPI's phase check (``kuscia.stages.kusciaapi_refusal``: none
        for stop and cancel); the engine's controller then acts on it or not, as Kuscia's does."""
        self._writable(f"{stage.value.lower()} {ref}")
        parse_stage(stage)
        with self.store.transaction():
            job = self._job(ref)
            refusal = kusciaapi_refusal(stage, job.status)
            if refusal is not None:
                phase = str(JobPhase.parse(job.status.get("phase")))
                raise PhaseError(refusal.text(job.name), phase, tuple(str(p) for p in refusal.allowed))
            from reconciler.engine.stage_commands import set_stage_label

            set_stage_label(job, stage, domain or str(job.spec.get("initiator", "")))
            self.store.put(job)
        self.kick()

    def _approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        self._writable(f"record an approval of {ref}")
        with self.store.transaction():
            job = self._job(ref)
            from reconciler.model import JobSpec  # the typed spec: not loaded by reads

            spec = JobSpec.from_dict(job.spec)
            if domain not in spec.domains:
                raise BackendError(
                    f"{domain} is not a party of job {job.name}; its parties are {', '.join(spec.domains)}"
                )
            phase = JobPhase.parse(job.status.get("phase"))
            if phase.is_final:
                raise PhaseError(
                    f"job {job.name} is {phase}; approvals apply to a job that is Initialized or "
                    "AwaitingApproval",
                    str(phase),
                    tuple(str(p) for p in APPROVAL_PHASES),
                )
            job.status.setdefault("approveStatus", {})[domain] = "JobAccepted" if accept else "JobRejected"
            self.store.put(job)
        self.kick()

    # -- inventory --------------------------------------------------------------------------
    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self.store.get_inventory(source_id)

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        self._writable("record the inventory")
        self.store.set_inventory(source_id, refs)

    def update_inventory(
        self,
        source_id: str,
        add: AbstractSet[ObjectRef] = frozenset(),
        remove: AbstractSet[ObjectRef] = frozenset(),
    ) -> None:
        self._writable("record the inventory")
        self.store.update_inventory(source_id, add, remove)

    # -- what people look at (``backends/local_views.py``) -----------------------------------------
    def logs(
        self, job: str, task: str | None = None, party: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        """Lines of the job's process logs, each prefixed ``[alias/domain-replica/container]``; following
        drives the engine when nobody else does (``step``)."""
        from reconciler.backends.local_views import job_logs

        return job_logs(self.store, self.state_dir, job, task, party, follow, self.step)

    def engine_status(self) -> dict[str, object]:
        from reconciler.backends.local_views import engine_status

        notice = self.driver_notice() if self.engine.busy() else ""
        return engine_status(self.store, self.state_dir, self.driver_pid(), notice)

    def close(self) -> None:
        """Release the lock; if work remains, hand it to a background driver."""
        if self._closed:
            return
        self._closed = True
        busy = self._drives() and self.engine.busy()
        if self._engine is not None:
            self._engine.close()
        if self._runtime is not None:
            self._runtime.close()
        if self._engine_lock is not None:
            self._engine_lock.release()
        if busy and self.autostart:
            from reconciler.engine.driver import ensure_driver

            ensure_driver(self.state_dir, self.trusted, self.auto_approve, self.workspace, self.kill_grace)
        self.store.close()
