"""``sync --wait``: follow jobs and standalone KusciaTasks to a final phase, reporting each one's phase, tasks
done/total and what it still waits for (parties to approve, tasks to finish)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.approvals.provenance import party_approvals
from reconciler.backends.base import Backend
from reconciler.kuscia.stages import APPROVAL_PHASES
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import KUSCIA_TASK
from reconciler.model.phases import FINAL_JOB_PHASES, ApprovePhase, JobPhase, TaskPhase

BAD_PHASES = frozenset({JobPhase.FAILED, JobPhase.CANCELLED, JobPhase.APPROVAL_REJECT})
TASK = KUSCIA_TASK

# (job name, domain) -> how that party approves, e.g. "`kgitops job approve job-x --domain bob`"
ApproveHint = Callable[[str, str], str]


def default_hint(job: str, domain: str) -> str:
    return f"`kgitops job approve {job} --domain {domain}`"


@dataclass(frozen=True)
class JobProgress:
    """Where a followed job (or standalone KusciaTask) is: its phase, tasks done/total, the backend's message,
    and, until it ends, what it is still waiting for (the parties that have not approved, and how they
    approve; the tasks still running)."""

    ref: ObjectRef
    phase: str
    done: int
    total: int
    message: str = ""
    waiting_for: str = ""

    @property
    def final(self) -> bool:
        if self.phase == "Deleted":
            return True
        if self.ref.kind == TASK:
            return TaskPhase.parse(self.phase).is_final
        return JobPhase.parse(self.phase) in FINAL_JOB_PHASES

    @property
    def bad(self) -> bool:
        if self.phase == "Deleted":
            return True
        if self.ref.kind == TASK:
            return TaskPhase.parse(self.phase) == TaskPhase.FAILED
        return JobPhase.parse(self.phase) in BAD_PHASES

    @property
    def name(self) -> str:
        return self.ref.name if self.ref.kind != TASK else f"task {self.ref.name}"

    def line(self) -> str:
        text = f"{self.name}: {self.phase} ({self.done}/{self.total} tasks)"
        if self.bad and self.message:
            return f"{text} {self.message}"
        if self.waiting_for and not self.final:
            return f"{text}, waiting for {self.waiting_for}"
        return text

    def reason(self) -> str:
        """Why it has not ended yet (for a timeout), or how it ended."""
        why = self.waiting_for or self.message or "no progress reported by the backend"
        return f"{self.name}: {self.phase} ({self.done}/{self.total} tasks): {why}"


def progress_of(backend: Backend, ref: ObjectRef, hint: ApproveHint = default_hint) -> JobProgress:
    obj = backend.get(ref)
    if obj is None:
        return JobProgress(ref, "Deleted", 0, 0, f"the {ref.kind} was deleted while waiting")
    status = obj.status or {}
    message = str(status.get("message") or "")
    if ref.kind == TASK:
        task_phase = TaskPhase.parse(str(status.get("phase") or ""))
        waiting = "" if task_phase.is_final else (message or f"the task to finish ({task_phase})")
        done = int(task_phase == TaskPhase.SUCCEEDED)
        return JobProgress(ref, str(task_phase), done, 1, message, waiting)
    tasks = obj.spec.get("tasks") or []
    task_status = status.get("taskStatus") or {}
    done = sum(1 for p in task_status.values() if TaskPhase.parse(str(p)) == TaskPhase.SUCCEEDED)
    phase = JobPhase.parse(str(status.get("phase") or ""))
    return JobProgress(ref, str(phase), done, len(tasks), message, _waiting_for(obj, phase, hint))


def _waiting_for(job: Resource, phase: JobPhase, hint: ApproveHint) -> str:
    if phase.is_final:
        return ""
    accepted = ApprovePhase.ACCEPTED
    pending = [p.domain for p in party_approvals(job) if not p.initiator and p.status != accepted]
    if phase in APPROVAL_PHASES and pending:
        how = "; ".join(f"{d}: {hint(job.name, d)}" for d in pending)
        return f"approval by {', '.join(pending)} ({how})"
    task_status = (job.status or {}).get("taskStatus") or {}
    open_tasks = [f"{t} {p}" for t, p in sorted(task_status.items()) if not TaskPhase.parse(str(p)).is_final]
    if open_tasks:
        return "tasks " + ", ".join(open_tasks)
    message = str((job.status or {}).get("message") or "")
    return message or f"the job to be scheduled ({phase})"


def wait_for_jobs(
    backend: Backend,
    refs: list[ObjectRef],
    timeout: float | None,
    on_change: Callable[[JobProgress], None],
    interval: float | None = None,
    hint: ApproveHint = default_hint,
) -> tuple[list[JobProgress], bool]:
    """Returns the last progress of every job (and standalone KusciaTask) and whether all reached a final
    phase before the timeout.

    ``Backend.run_until`` waits: the embedded engine is driven in this process meanwhile; other backends
    are polled every ``interval`` seconds (None: the backend's own pace).
    """
    last: dict[ObjectRef, JobProgress] = {}

    def check() -> bool:
        for ref in refs:
            p = progress_of(backend, ref, hint)
            if last.get(ref) != p:
                last[ref] = p
                on_change(p)
        return all(p.final for p in last.values())

    if interval is None:
        finished = backend.run_until(check, timeout)
    else:
        finished = backend.run_until(check, timeout, poll=interval)
    return [last[r] for r in refs if r in last], finished
