"""The scheduling rules of a Running KusciaJob as one pure function (kuscia-semantics.md §4, D1–D5, D9).

``schedule(spec, phases)`` looks only at the job spec and the phase of each created task (by alias) and
answers: which tasks are ready (in start order), which of them start now, the job phase, and which tasks
can never run. No clock, no disk, no processes: the job controller, ``kgitops simulate`` and the benchmark
all call exactly this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import JobPhase, JobSpec, ScheduleMode, TaskPhase

BLOCKED = "Blocked"  # D9: shown in views for tasks that can never be created


@dataclass(frozen=True)
class Decision:
    ready: tuple[str, ...]  # uncreated tasks whose dependencies all succeeded, in start order
    start: tuple[str, ...]  # the prefix of ``ready`` that fits into maxParallelism
    phase: JobPhase  # Running, Succeeded or Failed
    blocked: tuple[str, ...]  # uncreated tasks behind a failed (or blocked) dependency, spec order
    message: str = ""  # why the job ended, for status.message


def schedule(spec: JobSpec, phases: Mapping[str, TaskPhase]) -> Decision:
    """Decide one scheduling round. ``phases`` maps alias → phase of the tasks that exist."""
    tasks = spec.tasks
    succeeded = TaskPhase.SUCCEEDED
    failed = TaskPhase.FAILED
    ready_idx: list[int] = []
    active = 0
    finished = 0
    critical_failed: list[str] = []
    critical_open = False  # a critical task not (yet) Succeeded
    for i, t in enumerate(tasks):
        ph = phases.get(t.alias)
        if ph is None:
            if not t.tolerable:
                critical_open = True
            if all(phases.get(d) == succeeded for d in t.dependencies):
                ready_idx.append(i)
            continue
        if ph == succeeded:
            finished += 1
        elif ph == failed:
            finished += 1
            if not t.tolerable:
                critical_failed.append(t.alias)
                critical_open = True
        else:
            active += 1
            if not t.tolerable:
                critical_open = True

    blocked = _blocked(spec, phases) if finished and len(phases) < len(tasks) else ()
    phase = JobPhase.RUNNING
    message = ""
    if not phases:
        phase = JobPhase.RUNNING
    elif finished == len(tasks) and not critical_failed:
        phase = JobPhase.SUCCEEDED
    elif critical_failed and spec.schedule_mode is ScheduleMode.STRICT:
        phase = JobPhase.FAILED
        message = f"critical task failed: {', '.join(critical_failed)}"
    elif not active and not ready_idx:
        # Quiet: nothing runs and nothing can ever start (BestEffort after a critical failure, or D2: a
        # failed tolerable task with dependants). Succeeded only if every critical task succeeded.
        if critical_failed:
            phase = JobPhase.FAILED
            message = f"critical task failed: {', '.join(critical_failed)}"
        elif critical_open:
            phase = JobPhase.FAILED
            message = f"tasks can never run because a dependency failed: {', '.join(blocked)}"
        else:
            phase = JobPhase.SUCCEEDED
            if blocked:
                message = f"tolerable tasks never ran because a dependency failed: {', '.join(blocked)}"

    # D5: stable sort, priority descending, ties in spec order. Readiness ignores the mode and the phase
    # (§4.2); only a job that stays Running starts anything.
    ready_idx.sort(key=lambda i: -tasks[i].priority)
    ready = tuple(tasks[i].alias for i in ready_idx)
    free = spec.max_parallelism - active
    start = ready[:free] if free > 0 and phase is JobPhase.RUNNING else ()
    return Decision(ready, start, phase, blocked, message)


def _blocked(spec: JobSpec, phases: Mapping[str, TaskPhase]) -> tuple[str, ...]:
    """Uncreated tasks with a Failed dependency, directly or through other blocked tasks (D9)."""
    by_alias = {t.alias: t for t in spec.tasks}
    memo: dict[str, bool] = {}

    def is_blocked(alias: str, depth: int = 0) -> bool:
        if alias in memo:
            return memo[alias]
        memo[alias] = False  # cycle guard (validation rejects cycles anyway)
        t = by_alias.get(alias)
        result = False
        if t is not None and depth < 256:
            for d in t.dependencies:
                ph = phases.get(d)
                if ph == TaskPhase.FAILED or (ph is None and is_blocked(d, depth + 1)):
                    result = True
                    break
        memo[alias] = result
        return result

    return tuple(t.alias for t in spec.tasks if t.alias not in phases and is_blocked(t.alias))


def view_phases(spec: JobSpec, phases: Mapping[str, TaskPhase]) -> dict[str, str]:
    """Every task by alias for display: its phase, ``Blocked`` (D9), or ``NotCreated`` (waiting its turn)."""
    blocked = set(_blocked(spec, phases))
    out: dict[str, str] = {}
    for t in spec.tasks:
        ph = phases.get(t.alias)
        out[t.alias] = str(ph) if ph is not None else (BLOCKED if t.alias in blocked else "NotCreated")
    return out
