"""Typed, read-only views of live jobs and tasks (``types``) and the pure functions that build them from any
backend's objects (``build``)."""

from reconciler.views.build import endpoints_by_domain, job_info, spec_of, task_info
from reconciler.views.types import (
    JOB_ID_ANNOTATION,
    PRIORITIES,
    PRIORITY_ANNOTATION,
    TASK_ALIAS_ANNOTATION,
    Endpoint,
    JobInfo,
    JobPage,
    JobParty,
    JobSummary,
    JobSummaryPage,
    TaskInfo,
    TaskPage,
    TaskParty,
    TaskState,
    format_rfc3339,
    job_phase_of,
    parse_time,
)

__all__ = [
    "JOB_ID_ANNOTATION",
    "PRIORITIES",
    "PRIORITY_ANNOTATION",
    "TASK_ALIAS_ANNOTATION",
    "Endpoint",
    "JobInfo",
    "JobPage",
    "JobParty",
    "JobSummary",
    "JobSummaryPage",
    "TaskInfo",
    "TaskPage",
    "TaskParty",
    "TaskState",
    "endpoints_by_domain",
    "format_rfc3339",
    "job_info",
    "job_phase_of",
    "parse_time",
    "spec_of",
    "task_info",
]
