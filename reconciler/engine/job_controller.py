"""The KusciaJob controller: one handler per phase behind a dispatch table, like Kuscia's handler factory.

Each reconcile of a job is one store transaction: the handler reads the job and its tasks, may create,
stop or delete tasks, and the new job status is written in the same transaction, so a crash never leaves
a task created without the job knowing it (or the reverse).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.engine import jobcheck
from reconciler.engine.scheduler import schedule
from reconciler.engine.stage_commands import handle_stage_command
from reconciler.engine.store import Store
from reconciler.engine.taskbuild import build_task, generate_task_id
from reconciler.engine.trust_settings import FixedSettings, SettingsSource
from reconciler.kuscia.conditions import (
    CONDITION_FALSE,
    CONDITION_JOB_VALIDATED,
    CONDITION_TRUE,
    MESSAGE_JOB_STOPPED,
    REASON_CREATE_TASK_FAILED,
    REASON_KUSCIA_JOB_STOPPED,
    REASON_VALIDATE_FAILED,
)
from reconciler.kuscia.labels import (
    ANNOTATION_INITIATOR,
    ANNOTATION_INTERCONN_SELF_PARTIES,
    ANNOTATION_SELF_CLUSTER_AS_INITIATOR,
    LABEL_JOB_UID,
)
from reconciler.model import JobPhase, JobSpec, ObjectRef, Resource, TaskPhase
from reconciler.model.objects import KUSCIA_TASK
from reconciler.model.phases import OPEN_TASK_PHASES, SETTLED_JOB_PHASES, ApprovePhase, JobStagePhase


class Recorder(Protocol):
    """Observer of scheduling decisions (``kgitops simulate`` records its timeline through it)."""

    def scheduled(self, job: str, ready: Sequence[str]) -> None: ...
    def created(self, job: str, alias: str) -> None: ...
    def stopped(self, job: str, alias: str) -> None: ...


class NullRecorder:
    def scheduled(self, job: str, ready: Sequence[str]) -> None:
        pass

    def created(self, job: str, alias: str) -> None:
        pass

    def stopped(self, job: str, alias: str) -> None:
        pass


@dataclass
class TaskRef:
    """What the job controller needs of a task it owns; the full object is read only to change it."""

    name: str
    phase: TaskPhase


@dataclass
class JobRound:
    """One reconcile of one job: the job, its tasks by alias, and the operations a handler may perform."""

    store: Store
    job: Resource
    spec: JobSpec
    tasks: dict[str, TaskRef]
    now: str
    recorder: Recorder
    settings: SettingsSource  # read when a decision needs it (an automatic approval), never before

    def phases(self) -> dict[str, TaskPhase]:
        return {a: t.phase for a, t in self.tasks.items()}

    def task(self, alias: str) -> Resource | None:
        ref = self.tasks.get(alias)
        return self.store.get(ObjectRef(KUSCIA_TASK, self.job.namespace, ref.name)) if ref else None

    def refresh_task_status(self) -> None:
        """``status.taskStatus`` is always rebuilt from the tasks that exist (§4.1 step 5)."""
        self.job.status["taskStatus"] = {t.name: str(t.phase) for t in self.tasks.values()}

    def set_stage_status(self, value: JobStagePhase) -> None:
        stage = self.job.status.setdefault("stageStatus", {})
        for d in self.spec.domains:
            stage[d] = str(value)

    def fail_open_task_status(self) -> None:
        ts = self.job.status.get("taskStatus") or {}
        for k, v in ts.items():
            if v in (*OPEN_TASK_PHASES, ""):
                ts[k] = str(TaskPhase.FAILED)

    def stop_tasks(self) -> None:
        """§5.1: unfinished tasks become Failed (reason KusciaJobStopped); the runtime then kills them."""
        for t in self.spec.tasks:
            ref = self.tasks.get(t.alias)
            if ref is None or ref.phase.is_final:
                continue
            task = self.task(t.alias)
            if task is None:
                continue
            st = task.status
            st["phase"] = str(TaskPhase.FAILED)
            st["reason"] = REASON_KUSCIA_JOB_STOPPED
            st["message"] = MESSAGE_JOB_STOPPED
            st.setdefault("startTime", self.now)
            st["lastReconcileTime"] = self.now
            parties = st.setdefault("partyTaskStatus", [])
            for p in task.spec.get("parties") or ():
                entry = next(
                    (
                        e
                        for e in parties
                        if e.get("domainID") == p.get("domainID") and e.get("role", "") == p.get("role", "")
                    ),
                    None,
                )
                if entry is None:
                    entry = {
                        "domainID": p.get("domainID"),
                        "role": p.get("role", ""),
                        "phase": str(TaskPhase.FAILED),
                    }
                    parties.append(entry)
                elif entry.get("phase") in (*OPEN_TASK_PHASES, "", None):
                    entry["phase"] = str(TaskPhase.FAILED)
            self.store.put(task)
            ref.phase = TaskPhase.FAILED
            self.recorder.stopped(self.job.name, t.alias)
        self.refresh_task_status()

    def delete_unsucceeded_tasks(self) -> None:
        """§4.5: Restart deletes every task that did not succeed; the runtime collects their processes."""
        for alias, ref in list(self.tasks.items()):
            if ref.phase is not TaskPhase.SUCCEEDED:
                self.store.delete(ObjectRef(KUSCIA_TASK, self.job.namespace, ref.name))
                del self.tasks[alias]
        self.refresh_task_status()

    def create_task(self, alias: str) -> bool:
        template = next(t for t in self.job.spec.get("tasks", []) if t.get("alias") == alias)
        task = build_task(self.job, template)
        existing = self.store.get(task.ref)
        if existing is not None:
            if existing.labels.get(LABEL_JOB_UID) == self.job.uid:
                return True
            self.job.status["phase"] = str(JobPhase.FAILED)
            self.job.status["reason"] = REASON_CREATE_TASK_FAILED
            self.job.status["message"] = (
                f"Failed to create task {task.name} because of a task with the same name already exists"
            )
            return False
        stored = self.store.create(task, owner=self.job.uid)
        self.tasks[alias] = TaskRef(stored.name, TaskPhase.PENDING)
        self.recorder.created(self.job.name, alias)
        return True


Handler = Callable[[JobRound], None]


def _initialized(rnd: JobRound) -> None:
    job, status = rnd.job, rnd.job.status
    err = jobcheck.check_job(job.spec)
    conditions = status.setdefault("conditions", [])
    if err:
        conditions[:] = [c for c in conditions if c.get("type") != CONDITION_JOB_VALIDATED]
        conditions.append(
            {
                "type": CONDITION_JOB_VALIDATED,
                "status": CONDITION_FALSE,
                "reason": REASON_VALIDATE_FAILED,
                "message": f"Validate job failed, {err}",
                "lastTransitionTime": rnd.now,
            }
        )
        status.update(phase=str(JobPhase.FAILED), reason=REASON_VALIDATE_FAILED, message="")
        return
    if not any(c.get("type") == CONDITION_JOB_VALIDATED for c in conditions):
        conditions.append(
            {"type": CONDITION_JOB_VALIDATED, "status": CONDITION_TRUE, "lastTransitionTime": rnd.now}
        )
    domains = rnd.spec.domains
    job.annotations[ANNOTATION_SELF_CLUSTER_AS_INITIATOR] = "true"
    job.annotations[ANNOTATION_INITIATOR] = rnd.spec.initiator
    job.annotations[ANNOTATION_INTERCONN_SELF_PARTIES] = "_".join(domains)
    stage = status.setdefault("stageStatus", {})
    approve = status.setdefault("approveStatus", {})
    # the settings in force now, not when the driver started (``trust_settings``): a domain whose automatic
    # approval was withdrawn meanwhile must accept the job itself
    shared = any(d != rnd.spec.initiator for d in domains)
    auto = set(rnd.settings.current().auto_approve) if shared else set()
    for d in domains:
        stage.setdefault(d, str(JobStagePhase.CREATE_SUCCEEDED))
        if d == rnd.spec.initiator or d in auto:
            approve.setdefault(d, str(ApprovePhase.ACCEPTED))
    partners = [d for d in domains if d != rnd.spec.initiator]
    waiting = any(approve.get(d) != ApprovePhase.ACCEPTED for d in partners)
    status["phase"] = str(JobPhase.AWAITING_APPROVAL if waiting else JobPhase.PENDING)


def _awaiting_approval(rnd: JobRound) -> None:
    if handle_stage_command(rnd):
        return
    status = rnd.job.status
    approve = status.get("approveStatus") or {}
    partners = [d for d in rnd.spec.domains if d != rnd.spec.initiator]
    for d in partners:
        if approve.get(d) == ApprovePhase.REJECTED:
            status.update(phase=str(JobPhase.APPROVAL_REJECT), reason=f"Party: {d} approval reject.")
            status.setdefault("completionTime", rnd.now)
            return
    if all(approve.get(d) == ApprovePhase.ACCEPTED for d in partners):
        status["phase"] = str(JobPhase.PENDING)


def _pending(rnd: JobRound) -> None:
    if handle_stage_command(rnd):
        return
    # One cluster (D7): every party's create stage succeeded in Initialized, so the job starts at once.
    stage = rnd.job.status.get("stageStatus") or {}
    ok = (JobStagePhase.CREATE_SUCCEEDED, JobStagePhase.START_SUCCEEDED)
    if all(stage.get(d) in ok for d in rnd.spec.domains):
        rnd.job.status["phase"] = str(JobPhase.RUNNING)


def _running(rnd: JobRound) -> None:
    if handle_stage_command(rnd):
        return
    tasks = rnd.job.spec.get("tasks") or []
    if any(not t.get("taskID") for t in tasks):
        for t in tasks:
            if not t.get("taskID"):
                t["taskID"] = generate_task_id(rnd.job.name)
        rnd.spec = JobSpec.from_dict(rnd.job.spec)
        return
    decision = schedule(rnd.spec, rnd.phases())
    rnd.refresh_task_status()
    rnd.recorder.scheduled(rnd.job.name, decision.ready)
    status = rnd.job.status
    for alias in decision.start:
        if not rnd.create_task(alias):
            return
    rnd.refresh_task_status()
    if decision.phase is not JobPhase.RUNNING:
        status["phase"] = str(decision.phase)
        if decision.message:
            status["message"] = decision.message + _failure_details(rnd)
        if decision.phase is JobPhase.SUCCEEDED:
            status.setdefault("completionTime", rnd.now)


def _failure_details(rnd: JobRound) -> str:
    """The failed critical tasks' own messages, so the job says why without opening each task."""
    parts = []
    for t in rnd.spec.tasks:
        ref = rnd.tasks.get(t.alias)
        if ref is None or t.tolerable or ref.phase is not TaskPhase.FAILED:
            continue
        task = rnd.task(t.alias)
        if task is not None:
            msg = str(task.status.get("message") or "")
            if msg:
                parts.append(f"{t.alias}: {msg}")
    return f" ({'; '.join(parts)})" if parts else ""


def _suspended(rnd: JobRound) -> None:
    if handle_stage_command(rnd):
        return
    rnd.refresh_task_status()
    rnd.fail_open_task_status()


def _failed(rnd: JobRound) -> None:
    if handle_stage_command(rnd):
        return
    if not rnd.job.status.get("completionTime"):
        rnd.stop_tasks()
        rnd.fail_open_task_status()
        rnd.job.status["completionTime"] = rnd.now


def _finished(rnd: JobRound) -> None:
    rnd.job.status.setdefault("completionTime", rnd.now)


HANDLERS: dict[JobPhase, Handler] = {
    JobPhase.INITIALIZED: _initialized,
    JobPhase.AWAITING_APPROVAL: _awaiting_approval,
    JobPhase.PENDING: _pending,
    JobPhase.RUNNING: _running,
    JobPhase.SUSPENDED: _suspended,
    JobPhase.FAILED: _failed,
    JobPhase.SUCCEEDED: _finished,
    JobPhase.APPROVAL_REJECT: _finished,
    JobPhase.CANCELLED: _finished,
}


def should_reconcile(job: Resource) -> bool:
    """§2.3: terminal phases with completionTime are left alone; Failed and Suspended stay (Restart)."""
    phase = JobPhase.parse(job.status.get("phase"))
    return not (phase in SETTLED_JOB_PHASES and job.status.get("completionTime"))


class JobController:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], str],
        recorder: Recorder | None = None,
        settings: SettingsSource | None = None,
    ) -> None:
        """``settings``: where the domains approving automatically are read, at each approval (default:
        nobody)."""
        self.store = store
        self.clock = clock
        self.recorder: Recorder = recorder or NullRecorder()
        self.settings = settings or FixedSettings()
        # job uid -> (its spec as canonical JSON, parsed): a job's spec rarely changes (taskIDs are filled in
        # once), and parsing every task template on every reconcile made a step cost O(tasks)
        self._specs: dict[str, tuple[str, JobSpec]] = {}

    def _spec(self, job: Resource, text: str) -> JobSpec:
        """The parsed spec of ``job`` (``text``: its canonical JSON); ValueError/TypeError if malformed."""
        cached = self._specs.get(job.uid)
        if cached is not None and cached[0] == text:
            return cached[1]
        spec = JobSpec.from_dict(job.spec)
        self._specs[job.uid] = (text, spec)
        return spec

    def reconcile(self, ref: ObjectRef) -> bool:
        """Run the handler of the job's current phase once; True if anything was written."""
        with self.store.transaction():
            job = self.store.get(ref)
            if job is None or not should_reconcile(job):
                if job is not None:
                    self._specs.pop(job.uid, None)
                return False
            spec_text = json.dumps(job.spec, sort_keys=True)
            before = spec_text + json.dumps([job.labels, job.annotations, job.status], sort_keys=True)
            phase = JobPhase.parse(job.status.get("phase"))
            job.status["phase"] = str(phase)
            try:
                spec = self._spec(job, spec_text)
            except (ValueError, TypeError) as exc:
                job.status.update(phase=str(JobPhase.FAILED), reason=REASON_VALIDATE_FAILED, message=str(exc))
                spec = JobSpec(initiator=str(job.spec.get("initiator", "")), tasks=())
            # §4.1 step 3: only tasks whose name is some template's taskID count, keyed by alias
            ids = {(tt.alias, tt.task_id) for tt in spec.tasks}
            by_alias = {
                alias: TaskRef(name, TaskPhase.parse(phase))
                for name, alias, phase in self.store.task_index(job.uid)
                if (alias, name) in ids
            }
            rnd = JobRound(self.store, job, spec, by_alias, self.clock(), self.recorder, self.settings)
            if phase is not JobPhase.INITIALIZED and not spec.tasks:
                return False
            HANDLERS[phase](rnd)
            after = json.dumps(job.spec, sort_keys=True)
            after += json.dumps([job.labels, job.annotations, job.status], sort_keys=True)
            if after == before:
                return False
            job.status["lastReconcileTime"] = rnd.now
            job.status.setdefault("startTime", rnd.now)
            self.store.put(copy.copy(job))
            return True
