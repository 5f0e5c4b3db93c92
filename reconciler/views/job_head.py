"""What a job's table row (``views.summary.JobSummary``) and its full view (``views.types.JobInfo``) have in
common: the job's own fields, declared once for both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
