"""Building the views from the ``Resource`` objects any backend returns: pure functions, so every backend
shows the same thing. A job's view includes every task of its spec, also those that were never created, with
the reason (D9: a task whose dependency failed is ``Blocked``; Kuscia would just leave it out of its status).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import JobPhase, JobSpec, Resource, TaskTemplate
from reconciler.model.phases import FINAL_JOB_PHASES
from reconciler.views.fields import task_phase_of
from reconciler.views.job_head import job_domains, status_fields
from reconciler.views.types import (
    JOB_ID_ANNOTATION,
    TASK_ALIAS_ANNOTATION,
    Endpoint,
    JobInfo,
    JobParty,
    TaskInfo,
    TaskParty,
    TaskState,
    job_phase_of,
    parse_time,
)


def endpoints_by_domain(status: Mapping[str, Any]) -> dict[str, list[Endpoint]]:
    """Endpoints per domain, from ``serviceStatuses`` (Kuscia) or ``allocatedPorts`` (this machine)."""
    result: dict[str, list[Endpoint]] = {}
    for key, svc in sorted((status.get("serviceStatuses") or {}).items()):
        if not isinstance(svc, Mapping):
            continue
        domain = str(svc.get("namespace") or str(key).partition("/")[0])
        name = str(svc.get("serviceName") or str(key).partition("/")[2])
        port_name = str(svc.get("portName") or name.rsplit("-", 1)[-1])
        scope = str(svc.get("scope") or "")
        # the embedded engine lists the real addresses; Kuscia gives a service name (and maybe a port)
        addresses = [str(a) for a in svc.get("endpoints") or () if a]
        if not addresses:
            port = svc.get("portNumber") or svc.get("port")
            addresses = [f"{name}.{domain}.svc" + (f":{port}" if port else "")]
        result.setdefault(domain, []).extend(Endpoint(port_name, a, scope) for a in addresses)
    for entry in status.get("allocatedPorts") or ():
        if not isinstance(entry, Mapping):
            continue
        domain = str(entry.get("domainID") or "")
        if domain in result:
            continue
        ports = entry.get("namedPort") or {}
        result[domain] = [Endpoint(str(n), f"127.0.0.1:{p}", "Local") for n, p in sorted(ports.items())]
    return result


def _task_parties(template: TaskTemplate | None, status: Mapping[str, Any]) -> list[TaskParty]:
    endpoints = endpoints_by_domain(status)
    reported = [p for p in status.get("partyTaskStatus") or () if isinstance(p, Mapping)]
    parties: list[TaskParty] = []
    seen: set[tuple[str, str]] = set()
    for p in reported:
        key = (str(p.get("domainID") or ""), str(p.get("role") or ""))
        seen.add(key)
        parties.append(
            TaskParty(
                key[0],
                key[1],
                str(p.get("phase") or ""),
                str(p.get("message") or ""),
                endpoints.get(key[0], []),
            )
        )
    for tp in template.parties if template else ():
        if (tp.domain_id, tp.role) not in seen:
            parties.append(TaskParty(tp.domain_id, tp.role, "", "", endpoints.get(tp.domain_id, [])))
    return parties


def task_info(task: Resource, template: TaskTemplate | None = None, job: str = "") -> TaskInfo:
    """The view of a created KusciaTask (``template``: its entry in the job's spec, when known)."""
    st = task.status
    phase = TaskState(task_phase_of(task))
    progress = st.get("progress")
    return TaskInfo(
        name=task.name,
        job=job or task.annotations.get(JOB_ID_ANNOTATION, ""),
        alias=template.alias if template else task.annotations.get(TASK_ALIAS_ANNOTATION, ""),
        phase=phase,
        namespace=task.namespace,
        reason=str(st.get("reason") or ""),
        message=str(st.get("message") or ""),
        dependencies=list(template.dependencies) if template else [],
        tolerable=template.tolerable if template else False,
        priority=template.priority if template else 0,
        app_image=template.app_image if template else _first_app_image(task),
        parties=_task_parties(template, st),
        progress=float(progress) if isinstance(progress, int | float) else None,
        start_time=parse_time(st.get("startTime")),
        completion_time=parse_time(st.get("completionTime")),
        last_reconcile_time=parse_time(st.get("lastReconcileTime")),
        conditions=[dict(c) for c in st.get("conditions") or () if isinstance(c, Mapping)],
    )


def _first_app_image(task: Resource) -> str:
    for p in task.spec.get("parties") or ():
        if isinstance(p, Mapping) and p.get("appImageRef"):
            return str(p["appImageRef"])
    return ""


def _uncreated(
    template: TaskTemplate, job_name: str, namespace: str, state: TaskState, reason: str
) -> TaskInfo:
    return TaskInfo(
        name=template.task_id,
        job=job_name,
        alias=template.alias,
        phase=state,
        namespace=namespace,
        reason=reason,
        dependencies=list(template.dependencies),
        tolerable=template.tolerable,
        priority=template.priority,
        app_image=template.app_image,
        parties=[TaskParty(p.domain_id, p.role) for p in template.parties],
    )


def spec_of(job: Resource) -> JobSpec:
    """The typed spec; a live object with an unknown scheduleMode (Kuscia lets it through) still shows."""
    try:
        return JobSpec.from_dict(job.spec)
    except (ValueError, TypeError):
        cleaned = {k: v for k, v in job.spec.items() if k not in ("scheduleMode", "maxParallelism")}
        return JobSpec.from_dict(cleaned)


def job_info(job: Resource, tasks: Mapping[str, Resource] | None = None) -> JobInfo:
    """The view of a job; ``tasks`` maps KusciaTask names (taskIDs) to the live tasks that exist.

    A task that is not in ``tasks`` but has an entry in ``status.taskStatus`` (backends that do not expose
    task objects) is shown with that phase; one with neither was never created and gets a reason.
    """
    tasks = tasks or {}
    st = job.status
    phase = job_phase_of(job)
    spec = spec_of(job)
    task_status = st.get("taskStatus") or {}
    by_alias: dict[str, TaskInfo] = {}
    templates = {t.alias: t for t in spec.tasks}

    def resolve(template: TaskTemplate, trail: tuple[str, ...]) -> TaskInfo:
        if template.alias in by_alias:
            return by_alias[template.alias]
        info = _resolve(template, trail)
        by_alias[template.alias] = info
        return info

    def _resolve(template: TaskTemplate, trail: tuple[str, ...]) -> TaskInfo:
        if template.task_id and template.task_id in tasks:
            return task_info(tasks[template.task_id], template, job.name)
        if template.task_id and template.task_id in task_status:
            try:
                state = TaskState(str(task_status[template.task_id] or TaskState.PENDING))
            except ValueError:
                state = TaskState.PENDING
            info = _uncreated(template, job.name, job.namespace, state, "")
            return info
        # Never created: find out why, looking at the dependencies first.
        if phase == JobPhase.SUSPENDED:  # a restart may still run it, whatever its dependencies did
            return _uncreated(
                template,
                job.name,
                job.namespace,
                TaskState.NOT_CREATED,
                "the job was suspended before this task started",
            )
        waiting_on: list[str] = []
        for dep in template.dependencies:
            dep_t = templates.get(dep)
            if dep_t is None or dep in trail:
                return _uncreated(
                    template,
                    job.name,
                    job.namespace,
                    TaskState.BLOCKED,
                    f"dependency `{dep}` does not exist or is part of a cycle",
                )
            dep_info = resolve(dep_t, (*trail, template.alias))
            if dep_info.phase is TaskState.FAILED:
                return _uncreated(
                    template, job.name, job.namespace, TaskState.BLOCKED, f"dependency `{dep}` failed"
                )
            if dep_info.phase is TaskState.BLOCKED:
                return _uncreated(
                    template, job.name, job.namespace, TaskState.BLOCKED, f"dependency `{dep}` is blocked"
                )
            if dep_info.phase is not TaskState.SUCCEEDED:
                waiting_on.append(dep)
        if phase in {p.value for p in FINAL_JOB_PHASES}:
            return _uncreated(
                template,
                job.name,
                job.namespace,
                TaskState.NOT_CREATED,
                f"the job ended {phase} before this task started",
            )
        if waiting_on:
            reason = "waiting for " + ", ".join(f"`{d}`" for d in waiting_on)
        elif phase in (JobPhase.INITIALIZED, JobPhase.AWAITING_APPROVAL, JobPhase.PENDING):
            reason = f"waiting for the job to start (job is {phase})"
        else:
            reason = f"ready; waiting for a free slot (maxParallelism {spec.max_parallelism})"
        return _uncreated(template, job.name, job.namespace, TaskState.NOT_CREATED, reason)

    task_views = [resolve(t, ()) for t in spec.tasks]
    domains = job_domains(spec.domains, st)
    approvals = st.get("approveStatus") or {}
    stages = st.get("stageStatus") or {}
    return JobInfo(
        name=job.name,
        namespace=job.namespace,
        phase=phase,
        initiator=spec.initiator,
        schedule_mode=spec.schedule_mode.value,
        max_parallelism=spec.max_parallelism,
        **status_fields(job),
        parties=[JobParty(d, str(approvals.get(d) or ""), str(stages.get(d) or "")) for d in domains],
        tasks=task_views,
        conditions=[dict(c) for c in st.get("conditions") or () if isinstance(c, Mapping)],
    )
