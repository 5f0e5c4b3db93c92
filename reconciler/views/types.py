"""The typed, read-only views of live jobs and tasks that ``kgitops job show`` and the SDK return.

Plain dataclasses with ``to_dict()`` (camelCase keys, RFC 3339 UTC times) so that JSON and YAML output parse
back to the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.model.phases import TaskPhase
from reconciler.views.fields import (
    JOB_ID_ANNOTATION,
    PRIORITIES,
    PRIORITY_ANNOTATION,
    TASK_ALIAS_ANNOTATION,
    format_rfc3339,
    job_phase_of,
    parse_time,
)
from reconciler.views.job_head import JobHead

__all__ = [
    "JOB_ID_ANNOTATION",
    "PRIORITIES",
    "PRIORITY_ANNOTATION",
    "TASK_ALIAS_ANNOTATION",
    "Endpoint",
    "JobInfo",
    "JobPage",
    "JobParty",
    "TaskInfo",
    "TaskPage",
    "TaskParty",
    "TaskState",
    "format_rfc3339",
    "job_phase_of",
    "parse_time",
]


class TaskState(StrEnum):
    """A task's phase as shown to users: Kuscia's four (``TaskPhase``'s values), plus two for tasks that were
    never created. An enum of its own: an enum with members cannot be extended."""

    PENDING = TaskPhase.PENDING.value
    RUNNING = TaskPhase.RUNNING.value
    SUCCEEDED = TaskPhase.SUCCEEDED.value
    FAILED = TaskPhase.FAILED.value
    # Not created (yet): waiting for dependencies or a free slot, or the job ended first (the reason says).
    NOT_CREATED = "NotCreated"
    BLOCKED = "Blocked"  # never created and never will be: a dependency failed or is itself blocked (D9)

    @property
    def created(self) -> bool:
        return self not in (TaskState.NOT_CREATED, TaskState.BLOCKED)


@dataclass(frozen=True)
class Endpoint:
    """One service endpoint of a party: the port's name, its address (``host:port``) and its scope."""

    port_name: str
    endpoint: str
    scope: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"portName": self.port_name, "scope": self.scope, "endpoint": self.endpoint}


@dataclass
class TaskParty:
    """One party of a task: its phase, message and the endpoints it serves."""

    domain_id: str
    role: str = ""
    phase: str = ""
    message: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domainID": self.domain_id,
            "role": self.role,
            "phase": self.phase,
            "message": self.message,
            "endpoints": [e.to_dict() for e in self.endpoints],
        }


@dataclass
class TaskInfo:
    """A task of a job (from its spec) with its live state, or the reason it never ran."""

    name: str  # the KusciaTask name (taskID); may be "" before the initiator generated one
    job: str
    alias: str
    phase: TaskState
    namespace: str = ""
    reason: str = ""
    message: str = ""
    dependencies: list[str] = field(default_factory=list)
    tolerable: bool = False
    priority: int = 0
    app_image: str = ""
    parties: list[TaskParty] = field(default_factory=list)
    progress: float | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    last_reconcile_time: datetime | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.phase.created

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "job": self.job,
            "alias": self.alias,
            "namespace": self.namespace,
            "phase": self.phase.value,
            "created": self.created,
            "reason": self.reason,
            "message": self.message,
            "dependencies": list(self.dependencies),
            "tolerable": self.tolerable,
            "priority": self.priority,
            "appImage": self.app_image,
            "parties": [p.to_dict() for p in self.parties],
            "progress": self.progress,
            "startTime": format_rfc3339(self.start_time),
            "completionTime": format_rfc3339(self.completion_time),
            "lastReconcileTime": format_rfc3339(self.last_reconcile_time),
            "conditions": [dict(c) for c in self.conditions],
        }


@dataclass
class JobParty:
    """A party of a job: its approval and the last stage it reported (``approveStatus``/``stageStatus``)."""

    domain_id: str
    approval: str = ""
    stage: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"domainID": self.domain_id, "approval": self.approval, "stage": self.stage}


@dataclass
class JobInfo(JobHead):
    """A KusciaJob as an operator sees it. ``tasks`` holds every task of the spec, in spec order."""

    parties: list[JobParty] = field(default_factory=list)
    tasks: list[TaskInfo] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def job_id(self) -> str:
        """Kuscia's name for the job's name (KusciaAPI ``job_id``)."""
        return self.name

    @property
    def party_domains(self) -> list[str]:
        """The parties' domains, in ``parties`` order (as ``JobSummary`` has them)."""
        return [p.domain_id for p in self.parties]

    @property
    def tasks_succeeded(self) -> int:
        """How many of ``tasks`` Succeeded (as ``JobSummary`` has it)."""
        return sum(1 for t in self.tasks if t.phase is TaskState.SUCCEEDED)

    @property
    def tasks_total(self) -> int:
        return len(self.tasks)

    @property
    def updated_time(self) -> datetime | None:
        """The latest time the job changed, for ``--since``."""
        times = [
            t for t in (self.last_reconcile_time, self.finish_time, self.start_time, self.accept_time) if t
        ]
        return max(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "phase": self.phase,
            "reason": self.reason,
            "message": self.message,
            "initiator": self.initiator,
            "scheduleMode": self.schedule_mode,
            "maxParallelism": self.max_parallelism,
            "priority": self.priority,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "acceptTime": format_rfc3339(self.accept_time),
            "startTime": format_rfc3339(self.start_time),
            "finishTime": format_rfc3339(self.finish_time),
            "lastReconcileTime": format_rfc3339(self.last_reconcile_time),
            "parties": [p.to_dict() for p in self.parties],
            "tasks": [t.to_dict() for t in self.tasks],
            "conditions": [dict(c) for c in self.conditions],
        }


@dataclass
class JobPage:
    """One page of ``list_job``; pass ``next_marker`` back as ``marker`` for the next (None: last page)."""

    items: list[JobInfo]
    next_marker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [j.to_dict() for j in self.items], "nextMarker": self.next_marker}


@dataclass
class TaskPage:
    """One page of ``task list``: the tasks, and the marker of the next page (None on the last)."""

    items: list[TaskInfo]
    next_marker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [t.to_dict() for t in self.items], "nextMarker": self.next_marker}

