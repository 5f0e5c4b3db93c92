"""Typed, read-only views of live jobs and tasks (``types``), the pure functions that build them from any
backend's objects (``build``), and a job's table row (``summary``).

Names are imported on first use (PEP 562), so ``job list``, which needs only ``summary`` and ``fields``,
loads neither the full views nor the typed specs they are built from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

if TYPE_CHECKING:
    from reconciler.views.build import endpoints_by_domain, job_info, spec_of, task_info
    from reconciler.views.fields import (
        JOB_ID_ANNOTATION,
        PRIORITIES,
        PRIORITY_ANNOTATION,
        TASK_ALIAS_ANNOTATION,
        format_rfc3339,
        job_phase_of,
        parse_time,
        task_phase_of,
    )
    from reconciler.views.summary import JobSummary, JobSummaryPage
    from reconciler.views.types import (
        Endpoint,
        JobInfo,
        JobPage,
        JobParty,
        TaskInfo,
        TaskPage,
        TaskParty,
        TaskState,
    )

# name -> the module of this package that defines it
_HOMES: dict[str, str] = {
    **dict.fromkeys(("endpoints_by_domain", "job_info", "spec_of", "task_info"), "build"),
    **dict.fromkeys(
        (
            "JOB_ID_ANNOTATION",
            "PRIORITIES",
            "PRIORITY_ANNOTATION",
            "TASK_ALIAS_ANNOTATION",
            "format_rfc3339",
            "job_phase_of",
            "parse_time",
            "task_phase_of",
        ),
        "fields",
    ),
    **dict.fromkeys(("JobSummary", "JobSummaryPage"), "summary"),
    **dict.fromkeys(
        ("Endpoint", "JobInfo", "JobPage", "JobParty", "TaskInfo", "TaskPage", "TaskParty", "TaskState"),
        "types",
    ),
}

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
    "task_phase_of",
]


__getattr__ = lazy_exports(__name__, _HOMES, globals())
