"""``sync --wait``: follow jobs to a final phase, reporting each job's phase and tasks done/total."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.backends.base import Backend
from reconciler.model import ObjectRef
from reconciler.model.phases import FINAL_JOB_PHASES, JobPhase, TaskPhase

BAD_PHASES = frozenset({JobPhase.FAILED, JobPhase.CANCELLED, JobPhase.APPROVAL_REJECT})


@dataclass(frozen=True)
class JobProgress:
    ref: ObjectRef
    phase: str
    done: int
    total: int
    message: str = ""

    @property
    def final(self) -> bool:
        return self.phase == "Deleted" or JobPhase.parse(self.phase) in FINAL_JOB_PHASES

    @property
    def bad(self) -> bool:
        return self.phase == "Deleted" or JobPhase.parse(self.phase) in BAD_PHASES

    def line(self) -> str:
        text = f"{self.ref.name}: {self.phase} ({self.done}/{self.total} tasks)"
        return f"{text} {self.message}" if self.message and self.bad else text


def progress_of(backend: Backend, ref: ObjectRef) -> JobProgress:
    job = backend.get(ref)
    if job is None:
        return JobProgress(ref, "Deleted", 0, 0, "the job was deleted while waiting")
    tasks = job.spec.get("tasks") or []
    status = job.status or {}
    task_status = status.get("taskStatus") or {}
    done = sum(1 for p in task_status.values() if TaskPhase.parse(str(p)) == TaskPhase.SUCCEEDED)
    phase = str(JobPhase.parse(str(status.get("phase") or "")))
    return JobProgress(ref, phase, done, len(tasks), str(status.get("message") or ""))


def wait_for_jobs(
    backend: Backend,
    refs: list[ObjectRef],
    timeout: float | None,
    on_change: Callable[[JobProgress], None],
    interval: float = 0.2,
) -> tuple[list[JobProgress], bool]:
    """Returns the last progress of every job and whether all reached a final phase before the timeout.

    A backend with ``run_until`` (the local engine) is driven in this process while waiting; others are
    polled.
    """
    last: dict[ObjectRef, JobProgress] = {}

    def check() -> bool:
        for ref in refs:
            p = progress_of(backend, ref)
            if last.get(ref) != p:
                last[ref] = p
                on_change(p)
        return all(p.final for p in last.values())

    run_until = getattr(backend, "run_until", None)
    if callable(run_until):
        finished = bool(run_until(check, timeout))
        return [last[r] for r in refs if r in last], finished
    deadline = None if timeout is None else time.monotonic() + timeout
    while not check():
        if deadline is not None and time.monotonic() >= deadline:
            return [last[r] for r in refs], False
        time.sleep(interval)
    return [last[r] for r in refs], True
