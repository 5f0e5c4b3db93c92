"""The checks the job controller runs once, in Initialized (§6), plus the shapes §12 rejects (D2, D3, D4).

The full manifest validator lives in ``reconciler.validate``; the engine repeats the few rules it relies
on so that a job created directly through the backend can never make the controller misbehave.
"""

from __future__ import annotations

from typing import Any

from reconciler.model import ScheduleMode


def check_job(spec: dict[str, Any]) -> str:
    """Return "" if the job can be scheduled, else the error text (Kuscia's wording where it has one)."""
    tasks = spec.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        return "kuscia job should include at least one of task"
    mode = spec.get("scheduleMode")
    if mode not in (None, ScheduleMode.STRICT.value, ScheduleMode.BEST_EFFORT.value):
        return f"unknown scheduleMode {mode!r}: use Strict or BestEffort"
    aliases: list[str] = []
    task_ids: list[str] = []
    for i, t in enumerate(tasks):
        if not isinstance(t, dict) or not t.get("alias"):
            return f"task alias can not be empty on tasks[{i}]"
        if not t.get("parties"):
            return f"parties can not be empty on tasks[{i}]"
        aliases.append(str(t["alias"]))
        if t.get("taskID"):
            task_ids.append(str(t["taskID"]))
    for name, values in (("alias", aliases), ("taskID", task_ids)):
        seen: set[str] = set()
        for v in values:
            if v in seen:
                return f"validate failed: duplicate task {name} {v}"
            seen.add(v)
    known = set(aliases)
    tolerable = {str(t["alias"]) for t in tasks if t.get("tolerable")}
    for t in tasks:
        for dep in t.get("dependencies") or ():
            if dep not in known:
                return f"validate failed: task {t['alias']} has not exist dependency task {dep}"
            if dep in tolerable:
                return f"validate failed: task {t['alias']} depends on tolerable task {dep}"
    deps = {str(t["alias"]): set(t.get("dependencies") or ()) for t in tasks}
    while deps:
        free = [a for a, d in deps.items() if not d]
        if not free:
            return "validate failed: cycled dependencies"
        for a in free:
            del deps[a]
        for d in deps.values():
            d.difference_update(free)
    return ""
