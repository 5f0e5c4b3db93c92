"""What a job's table row (``views.summary.JobSummary``) and its full view (``views.types.JobInfo``) have in
common: the job's own fields, declared once for both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.views.fields import PRIORITY_ANNOTATION, parse_time

if TYPE_CHECKING:
    from reconciler.model import Resource


@dataclass
class JobHead:
    """A KusciaJob's own fields as an operator sees them (``views.build.job_info`` reads them)."""

    name: str
    namespace: str
    phase: str
    initiator: str = ""
    reason: str = ""
    message: str = ""
    schedule_mode: str = ""
    max_parallelism: int = 1
    priority: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    accept_time: datetime | None = None  # creation
    start_time: datetime | None = None
    finish_time: datetime | None = None
    last_reconcile_time: datetime | None = None


def status_fields(job: Resource) -> dict[str, Any]:
    """The ``JobHead`` fields read from the job's metadata and status, as keyword arguments: reason,
    message, priority (the ``kgitops.io/priority`` annotation), copies of the labels and annotations, and
    the four times (RFC 3339 parsed; None when absent or unreadable)."""
    st = job.status
    return {
        "reason": str(st.get("reason") or ""),
        "message": str(st.get("message") or ""),
        "priority": job.annotations.get(PRIORITY_ANNOTATION, ""),
        "labels": dict(job.labels),
        "annotations": dict(job.annotations),
        "accept_time": parse_time(job.creation_timestamp),
        "start_time": parse_time(st.get("startTime")),
        "finish_time": parse_time(st.get("completionTime")),
        "last_reconcile_time": parse_time(st.get("lastReconcileTime")),
    }


def job_domains(spec_domains: Iterable[str], status: Mapping[str, Any]) -> list[str]:
    """The job's parties: those its tasks name, in order, then any other domain Kuscia recorded an approval
    or a stage for (``status.approveStatus``, ``status.stageStatus``)."""
    domains = list(spec_domains)
    for extra in list(status.get("approveStatus") or {}) + list(status.get("stageStatus") or {}):
        if extra not in domains:
            domains.append(str(extra))
    return domains
