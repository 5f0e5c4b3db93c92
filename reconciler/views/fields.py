"""The plain facts of the views, without their dataclasses: the annotations they read, the priorities, how
a phase and a time are read from a status. What ``job list`` needs of ``reconciler.views`` before any view is
built (``views.summary``, ``backends.pages``, ``jobops``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reconciler.kuscia.labels import ANNOTATION_JOB_ID, ANNOTATION_PRIORITY, ANNOTATION_TASK_ALIAS
from reconciler.model.phases import JobPhase, TaskPhase

if TYPE_CHECKING:
    from reconciler.model import Resource

PRIORITY_ANNOTATION = ANNOTATION_PRIORITY
PRIORITIES = ("HIGH", "NORMAL", "LOW")
JOB_ID_ANNOTATION = ANNOTATION_JOB_ID
TASK_ALIAS_ANNOTATION = ANNOTATION_TASK_ALIAS


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 from a status field, as an aware datetime; None when unset or unreadable."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_rfc3339(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_phase_of(job: Resource) -> str:
    """The job's phase in our spelling (D8: Kuscia's ``initialized`` and ``""`` read as ``Initialized``)."""
    raw = str(job.status.get("phase") or "")
    try:
        return JobPhase.parse(raw).value
    except ValueError:
        return raw


TASK_PHASES = tuple(p.value for p in TaskPhase)
"""The phases a KusciaTask's ``status.phase`` takes (Kuscia's ``TaskPhase``: Pending, Running, Succeeded,
Failed)."""


def task_phase_of(task: Resource) -> str:
    """A created KusciaTask's phase as shown: ``status.phase`` when it is one of ``TASK_PHASES``, else (unset,
    empty or unknown) Pending, as Kuscia treats a task without a phase (``TaskPhase.parse``)."""
    raw = task.status.get("phase")
    return raw if isinstance(raw, str) and raw in TASK_PHASES else TaskPhase.PENDING.value
