"""A job's table row (``JobSummary``) straight from its spec and status mappings: what ``job_info`` would
show in the columns of ``kgitops job list``, without typing the spec (``model.specs``) or resolving why each
task never ran (about 90 µs a job of 8 tasks). A pure function, like ``views.build``.

Only the fields the spec's typing reads are looked at; a spec or status of a shape the fast reading does
not expect (which ``JobSpec.from_dict`` might read otherwise, or refuse) is summarised from ``job_info``
itself, so the two always agree (tests/views/test_job_summary.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from reconciler.model.phases import DEFAULT_MAX_PARALLELISM, ScheduleMode, TaskPhase
from reconciler.views.fields import job_phase_of
from reconciler.views.job_head import JobHead, job_domains, status_fields

if TYPE_CHECKING:  # the full views (views.types, views.build) are loaded only when a summary needs them
    from reconciler.model import Resource
    from reconciler.views.types import JobInfo

_SUCCEEDED = TaskPhase.SUCCEEDED.value  # TaskState.SUCCEEDED: a created task's phase is Kuscia's


@dataclass
class JobSummary(JobHead):
    """What a job table shows of a job (``kgitops job list``): a ``JobInfo`` without its tasks' views, only
    how many tasks the spec has and how many Succeeded, and the parties' domains. The fields of ``JobHead``
    have the values of the ``JobInfo`` fields of the same name (``views.summary.job_summary``)."""

    party_domains: list[str] = field(default_factory=list)
    tasks_succeeded: int = 0
    tasks_total: int = 0


@dataclass
class JobSummaryPage:
    """One page of ``list_job_summary``: the same jobs and ``next_marker`` as ``list_job``'s page."""

    items: list[JobSummary]
    next_marker: str | None = None


def _listed(value: Any) -> bool:
    """``value or ()`` iterates as a list of it: unset, empty, or a JSON array."""
    return not value or type(value) is list


def _mapping(value: Any) -> bool:
    return not value or type(value) is dict


def _plain_task(task: Any) -> bool:
    """A task entry ``TaskTemplate.from_dict`` reads without a question: a mapping of JSON arrays, objects,
    strings and whole numbers where it expects them."""
    if type(task) is not dict:
        return False
    parties = task.get("parties")
    priority = task.get("priority")
    if not (
        _listed(parties)
        and _listed(task.get("dependencies"))
        and _mapping(task.get("scheduleConfig"))
        and (not priority or type(priority) is int)
    ):
        return False
    return all(type(p) is dict and _listed(p.get("bandwidthLimits")) for p in parties or ())


def _full_view_summary(job: Resource) -> JobSummary:
    from reconciler.views.build import job_info  # the full reading decides (or refuses, as before)

    return summary_of(job_info(job))


def job_summary(job: Resource) -> JobSummary:
    """The job's table row; equal to ``summary_of(job_info(job))`` (no live tasks given: a list shows the
    phases of ``status.taskStatus``)."""
    spec, st = job.spec, job.status
    if type(spec) is not dict or type(st) is not dict:
        return _full_view_summary(job)
    tasks = spec.get("tasks") or ()
    task_status = st.get("taskStatus") or {}
    if not (
        (not tasks or type(tasks) is list)
        and type(task_status) is dict
        and _mapping(st.get("approveStatus"))
        and _mapping(st.get("stageStatus"))
        and _listed(st.get("conditions"))
    ):
        return _full_view_summary(job)
    succeeded: dict[str, bool] = {}  # alias -> Succeeded; a repeated alias shares its first task's view
    domains: dict[str, None] = {}
    for t in tasks:
        if not _plain_task(t):
            return _full_view_summary(job)
        alias = str(t.get("alias", ""))
        if alias not in succeeded:
            task_id = str(t.get("taskID") or "")
            succeeded[alias] = bool(task_id) and str(task_status.get(task_id) or "") == _SUCCEEDED
        for p in t.get("parties") or ():
            domains.setdefault(str(p.get("domainID", "")), None)
    try:
        mode = ScheduleMode(spec.get("scheduleMode") or ScheduleMode.STRICT)
        mp = spec.get("maxParallelism")
        max_parallelism = int(mp) if isinstance(mp, int) and mp > 0 else DEFAULT_MAX_PARALLELISM
    except (ValueError, TypeError):  # views.build.spec_of: an unknown scheduleMode: Strict, maxParallelism 1
        mode, max_parallelism = ScheduleMode.STRICT, DEFAULT_MAX_PARALLELISM
    return JobSummary(
        name=job.name,
        namespace=job.namespace,
        phase=job_phase_of(job),
        initiator=str(spec.get("initiator", "")),
        schedule_mode=mode.value,
        max_parallelism=max_parallelism,
        **status_fields(job),
        party_domains=job_domains(domains, st),
        tasks_succeeded=sum(succeeded[str(t.get("alias", ""))] for t in tasks),
        tasks_total=len(tasks),
    )


def summary_of(info: JobInfo) -> JobSummary:
    """A ``JobInfo``'s table row."""
    head = {f.name: getattr(info, f.name) for f in fields(JobHead)}
    head.update(labels=dict(info.labels), annotations=dict(info.annotations))
    return JobSummary(
        **head,
        party_domains=info.party_domains,
        tasks_succeeded=info.tasks_succeeded,
        tasks_total=info.tasks_total,
    )
