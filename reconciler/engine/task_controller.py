"""The KusciaTask controller: launch the pods through the runtime, then derive the task status from them (§8).

Party phase from its pods (minReservedPods), task phase from its parties (minReservedMembers); a final task
has its remaining pods terminated; ``lifecycleSeconds`` is enforced. Each task update is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.engine.runtime.base import LaunchError, PodView, Runtime
from reconciler.engine.store import Store
from reconciler.kuscia.conditions import (
    CONDITION_FALSE,
    CONDITION_PORTS_ALLOCATED,
    CONDITION_RESOURCE_CREATED,
    CONDITION_RUNNING,
    CONDITION_SUCCESS,
    CONDITION_TRUE,
    REASON_KUSCIA_TASK_CREATE_FAILED,
    REASON_LIFECYCLE_EXCEEDED,
    REASON_PARTY_FAILED,
    REASON_UNTRUSTED_APPIMAGE,
)
from reconciler.kuscia.labels import LABEL_JOB_UID
from reconciler.kuscia.names import pod_name, service_name
from reconciler.model import ObjectRef, Resource, TaskPhase, TaskSpec
from reconciler.model.objects import APP_IMAGE
from reconciler.model.phases import OPEN_TASK_PHASES, PodPhase

# a task's phase only moves forward (keyed by str: a stored phase is looked up too)
_RANK: dict[str, int] = {
    TaskPhase.PENDING: 0,
    TaskPhase.RUNNING: 1,
    TaskPhase.SUCCEEDED: 2,
    TaskPhase.FAILED: 2,
}
TERMINATION_RECHECK = 0.05  # seconds between looks at a stopped task whose processes are still alive
LAUNCH_RETRY = 0.2  # seconds between launches of a task waiting for its AppImage (resourceReservedSeconds)


def party_phase(pods: list[PodView], min_reserved_pods: int) -> TaskPhase:
    """A party's phase from its pods' phases (minReservedPods, §8)."""
    total = len(pods)
    need = min_reserved_pods if 0 < min_reserved_pods <= total else total
    failed = sum(p.phase == PodPhase.FAILED for p in pods)
    if total == 0 or need > total - failed:
        return TaskPhase.FAILED
    if sum(p.phase == PodPhase.SUCCEEDED for p in pods) >= need:
        return TaskPhase.SUCCEEDED
    if any(p.phase == PodPhase.RUNNING for p in pods):
        return TaskPhase.RUNNING
    return TaskPhase.PENDING


def task_phase(party_phases: list[TaskPhase], min_reserved_members: int) -> tuple[TaskPhase, int, int]:
    """(phase, threshold, remaining non-failed) from the party phases."""
    total = len(party_phases)
    need = min_reserved_members if 0 < min_reserved_members <= total else total
    failed = party_phases.count(TaskPhase.FAILED)
    if need > total - failed:
        return TaskPhase.FAILED, need, total - failed
    if party_phases.count(TaskPhase.SUCCEEDED) >= need:
        return TaskPhase.SUCCEEDED, need, total - failed
    if TaskPhase.RUNNING in party_phases or TaskPhase.SUCCEEDED in party_phases:
        return TaskPhase.RUNNING, need, total - failed
    return TaskPhase.PENDING, need, total - failed


def _seconds_since(ts: str, now: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        a = datetime.strptime(ts, fmt).replace(tzinfo=UTC)
        b = datetime.strptime(now, fmt).replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (b - a).total_seconds()


def _condition(status: dict, type_: str, value: str, now: str, reason: str = "", message: str = "") -> None:
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != value:
                c.update(status=value, lastTransitionTime=now, reason=reason, message=message)
            return
    c = {"type": type_, "status": value, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conds.append(c)


class TaskController:
    def __init__(self, store: Store, runtime: Runtime, clock: Callable[[], str]) -> None:
        self.store = store
        self.runtime = runtime
        self.clock = clock
        self._rechecks: dict[ObjectRef, float] = {}

    def take_rechecks(self) -> dict[ObjectRef, float]:
        """Tasks that need another look without any event, and in how many seconds: a stopped task whose
        processes are still alive (SIGKILL after the grace period), a launch waiting for its AppImage, the
        end of ``scheduleConfig.lifecycleSeconds``. Emptied by the call."""
        out, self._rechecks = self._rechecks, {}
        return out

    def _recheck(self, ref: ObjectRef, seconds: float) -> None:
        self._rechecks[ref] = min(seconds, self._rechecks.get(ref, seconds))

    def _lookup_for(self, task: Resource) -> Callable[[str], Resource | None]:
        """The AppImages as the task's job was created with them (``engine/pins.py``), never as they are now:
        a command changed after the job was created (and approved) does not run in it."""
        owner = task.labels.get(LABEL_JOB_UID) or task.uid

        def lookup(name: str) -> Resource | None:
            # pinned already (the usual case) is a read; pinning is a write transaction
            pinned = self.store.pinned_appimage(owner, name) or self.store.pin_appimage(owner, name)
            if pinned is None:
                return None
            return Resource(kind=APP_IMAGE, name=name, spec=pinned.spec)

        return lookup

    def reconcile(self, ref: ObjectRef) -> bool:
        task = self.store.get(ref)
        if task is None:
            return False
        status = task.status
        phase = TaskPhase.parse(status.get("phase"))
        now = self.clock()
        if phase.is_final:
            alive = self.runtime.terminate(task)
            if alive:
                self._recheck(ref, TERMINATION_RECHECK)
            changed = False
            if not alive and not status.get("completionTime"):
                self._fail_open_pods(status)
                status["completionTime"] = now
                changed = True
            if changed:
                return self._write(task, ref, now)
            return False
        if not any(c.get("type") == CONDITION_RESOURCE_CREATED for c in status.get("conditions") or ()):
            changed = self._launch(task, ref, now)
        elif self._withdraw(task, now):
            return self._write(task, ref, now)  # its next reconcile terminates the processes
        else:
            with self.store.transaction():  # the pods' exits and the task's new status: one transaction
                changed = self._observe(task, ref, now)
        self._recheck_lifecycle(task, ref, now)
        return changed

    def _withdraw(self, task: Resource, now: str) -> bool:
        """A launched task whose AppImage's trust was withdrawn (``Runtime.withdrawn``) becomes Failed with
        reason ``UntrustedAppImage``, as it would have at launch; True if so."""
        why = self.runtime.withdrawn(task)
        if not why:
            return False
        status = task.status
        status.update(phase=str(TaskPhase.FAILED), reason=REASON_UNTRUSTED_APPIMAGE, message=why)
        for entry in status.get("partyTaskStatus") or ():
            if entry.get("phase") in OPEN_TASK_PHASES:
                entry["phase"] = str(TaskPhase.FAILED)
        return True

    def _recheck_lifecycle(self, task: Resource, ref: ObjectRef, now: str) -> None:
        status = task.status
        launched = any(c.get("type") == CONDITION_RESOURCE_CREATED for c in status.get("conditions") or ())
        final = TaskPhase.parse(status.get("phase")).is_final
        if not self.runtime.enforces_lifecycle or not launched or final:
            return
        limit = TaskSpec.from_dict(task.spec).schedule_config.lifecycle_seconds
        # timestamps have whole seconds: one second late at most, never early
        self._recheck(ref, max(limit - _seconds_since(status.get("startTime", now), now) + 1.0, 0.0))

    def _write(self, task: Resource, ref: ObjectRef, now: str) -> bool:
        with self.store.transaction():
            current = self.store.get(ref)
            if current is None or current.uid != task.uid:
                return False
            # the job controller may have stopped the task meanwhile: its verdict wins
            if (
                TaskPhase.parse(current.status.get("phase")).is_final
                and not TaskPhase.parse(task.status.get("phase")).is_final
            ):
                return False
            # only the status is ours: labels or annotations written meanwhile by a user are kept
            current.status = task.status
            current.status["lastReconcileTime"] = now
            self.store.put(current)
        return True

    def _launch(self, task: Resource, ref: ObjectRef, now: str) -> bool:
        status = task.status
        status["phase"] = str(TaskPhase.PENDING)
        status.setdefault("startTime", now)
        spec = TaskSpec.from_dict(task.spec)
        try:
            launched = self.runtime.launch(task, self._lookup_for(task))
        except LaunchError as exc:
            waited = _seconds_since(status["startTime"], now)
            if exc.retry and waited < spec.schedule_config.resource_reserved_seconds:
                # e.g. a sync that creates the AppImage after the job: wait resourceReservedSeconds
                self._recheck(ref, LAUNCH_RETRY)
                if status.get("message") == exc.message:
                    return False
                status.update(reason=exc.reason, message=exc.message)
                return self._write(task, ref, now)
            _condition(
                status,
                CONDITION_RESOURCE_CREATED,
                CONDITION_FALSE,
                now,
                REASON_KUSCIA_TASK_CREATE_FAILED,
                exc.message,
            )
            failed = str(TaskPhase.FAILED)
            status.update(phase=failed, reason=exc.reason, message=exc.message, completionTime=now)
            status["partyTaskStatus"] = [
                {"domainID": p.domain_id, "role": p.role, "phase": failed, "message": exc.message}
                for p in spec.parties
            ]
            return self._write(task, ref, now)
        status.pop("reason", None)
        status.pop("message", None)
        _condition(status, CONDITION_PORTS_ALLOCATED, CONDITION_TRUE, now)
        _condition(status, CONDITION_RESOURCE_CREATED, CONDITION_TRUE, now)
        status["allocatedPorts"] = [
            {"domainID": p.domain_id, "role": p.role, "namedPort": launched.ports.get(p.domain_id, {})}
            for p in spec.parties
            if launched.ports.get(p.domain_id)
        ]
        services: dict[str, dict] = {}
        for p in spec.parties:
            for name, port in (launched.ports.get(p.domain_id) or {}).items():
                meta = (launched.port_meta.get(p.domain_id) or {}).get(name, {})
                svc = service_name(pod_name(task.name, p.role, 0), name)  # Kuscia's names
                services[f"{p.domain_id}/{svc}"] = {
                    "namespace": p.domain_id,
                    "serviceName": svc,
                    "portName": name,
                    "portNumber": port,
                    "scope": meta.get("scope", "Cluster"),
                    "endpoints": [f"127.0.0.1:{port}"],
                    "createTime": now,
                    "readyTime": now,
                }
        status["serviceStatuses"] = services
        status["partyTaskStatus"] = [
            {"domainID": p.domain_id, "role": p.role, "phase": str(TaskPhase.PENDING)} for p in spec.parties
        ]
        self._apply_pods(task, spec, launched.pods, now)
        return self._write(task, ref, now)

    def _observe(self, task: Resource, ref: ObjectRef, now: str) -> bool:
        spec = TaskSpec.from_dict(task.spec)
        status = task.status
        before = repr(status)
        pods = self.runtime.observe(task)
        self._apply_pods(task, spec, pods, now)
        if (
            self.runtime.enforces_lifecycle
            and not TaskPhase.parse(status.get("phase")).is_final
            and _seconds_since(status.get("startTime", now), now) > spec.schedule_config.lifecycle_seconds
        ):
            n = spec.schedule_config.lifecycle_seconds
            status.update(
                phase=str(TaskPhase.FAILED),
                reason=REASON_LIFECYCLE_EXCEEDED,
                message=f"The task did not finish within its lifecycle of {n} seconds "
                "(scheduleConfig.lifecycleSeconds); its processes were terminated",
            )
            for entry in status.get("partyTaskStatus") or ():
                if entry.get("phase") in OPEN_TASK_PHASES:
                    entry["phase"] = str(TaskPhase.FAILED)
        if repr(status) == before:
            return False
        return self._write(task, ref, now)

    def _apply_pods(self, task: Resource, spec: TaskSpec, pods: list[PodView], now: str) -> None:
        status = task.status
        pod_status = status.setdefault("podStatuses", {})
        for p in pods:
            key = f"{p.domain}/{p.name}"
            entry = pod_status.setdefault(
                key, {"podName": p.name, "namespace": p.domain, "nodeName": "localhost", "createTime": now}
            )
            entry["podPhase"] = p.phase
            if p.start_time:
                entry["startTime"] = p.start_time
            if p.reason:
                entry["reason"] = p.reason
            if p.message:
                entry["message"] = p.message
        parties = []
        messages: dict[str, str] = {}
        for party in spec.parties:
            mine = [p for p in pods if p.domain == party.domain_id]
            ph = party_phase(mine, party.min_reserved_pods)
            parties.append(ph)
            msg = next((p.message for p in mine if p.phase == PodPhase.FAILED and p.message), "")
            messages[party.domain_id] = msg
        entries = status.setdefault("partyTaskStatus", [])
        for party, ph in zip(spec.parties, parties, strict=True):
            entry = next((e for e in entries if e.get("domainID") == party.domain_id), None)
            if entry is None:
                entry = {"domainID": party.domain_id, "role": party.role}
                entries.append(entry)
            entry["phase"] = str(ph)
            if messages.get(party.domain_id):
                entry["message"] = messages[party.domain_id]
        derived, need, remaining = task_phase(parties, spec.schedule_config.min_reserved_members)
        current = str(status.get("phase") or TaskPhase.PENDING)
        phase = current if _RANK[derived] < _RANK.get(current, 0) else str(derived)
        status["phase"] = phase
        if phase in (TaskPhase.RUNNING, TaskPhase.SUCCEEDED):
            _condition(status, CONDITION_RUNNING, CONDITION_TRUE, now)
        if phase == TaskPhase.SUCCEEDED:
            _condition(status, CONDITION_SUCCESS, CONDITION_TRUE, now)
            status["progress"] = 1.0
        if phase == TaskPhase.FAILED and not status.get("reason"):
            failed = [
                d
                for d, ph in zip((p.domain_id for p in spec.parties), parties, strict=True)
                if ph is TaskPhase.FAILED
            ]
            detail = "; ".join(f"{d}: {messages[d]}" for d in failed if messages.get(d))
            status["reason"] = REASON_PARTY_FAILED
            status["message"] = (
                f"The remaining no-failed party task counts {remaining} are less than the task "
                f"success threshold "
                f"{need}. failed party[{','.join(failed)}]" + (f": {detail}" if detail else "")
            )

    @staticmethod
    def _fail_open_pods(status: dict) -> None:
        for entry in (status.get("podStatuses") or {}).values():
            if entry.get("podPhase") in (PodPhase.PENDING, PodPhase.RUNNING):
                entry["podPhase"] = str(PodPhase.FAILED)
        for entry in status.get("partyTaskStatus") or ():
            if entry.get("phase") in OPEN_TASK_PHASES:
                entry["phase"] = str(TaskPhase.FAILED)
