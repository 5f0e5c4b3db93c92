"""JobStatusDetail (KusciaAPI) <-> KusciaJob/KusciaTask status (CRD names), kuscia-semantics.md §9. Pure.

Kuscia's mapping is kept on this surface (D8): ``initialized`` (our ``Initialized``) reads ``Unknown``, and a
task that was never created reads ``Pending``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kuscia.labels import ANNOTATION_JOB_ID, ANNOTATION_TASK_ALIAS
from reconciler.kusciaapi.mapping import custom_fields, spec_from_query, task_config
from reconciler.model import JobPhase, Resource, TaskPhase
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.model.phases import KUSCIAAPI_JOB_STATES, KUSCIAAPI_UNKNOWN_STATE


def job_state(phase: str) -> str:
    if not phase or phase == JobPhase.PENDING:
        return str(JobPhase.PENDING)
    if phase in KUSCIAAPI_JOB_STATES:
        return phase
    return KUSCIAAPI_UNKNOWN_STATE  # initialized / Initialized, and anything Kuscia does not know


def _endpoints(task_status: Mapping[str, Any], domain: str) -> list[dict[str, str]]:
    out = []
    for key, s in (task_status.get("serviceStatuses") or {}).items():
        s = s or {}
        svc = str(key).rsplit("/", 1)[-1]
        if s.get("namespace") and s.get("namespace") != domain:
            continue
        scope = str(s.get("scope") or "Cluster")
        endpoint = f"{s.get('serviceName') or svc}.{s.get('namespace') or domain}.svc"
        if scope == "Domain" and s.get("portNumber"):
            endpoint += f":{s['portNumber']}"
        out.append({"port_name": str(s.get("portName") or ""), "scope": scope, "endpoint": endpoint})
    return out


def task_status_detail(
    tpl: Mapping[str, Any], job_status: Mapping[str, Any], task: Resource | None
) -> dict[str, Any]:
    task_id = str(tpl.get("taskID") or "")
    state = str((job_status.get("taskStatus") or {}).get(task_id) or TaskPhase.PENDING)
    ts = task.status if task is not None else {}
    parties = []
    by_domain = {str(p.get("domainID")): p for p in ts.get("partyTaskStatus") or ()}
    for p in tpl.get("parties") or ():
        domain = str(p.get("domainID") or "")
        pts = by_domain.get(domain) or {}
        parties.append(
            {
                "domain_id": domain,
                "state": str(pts.get("phase") or state),
                "err_msg": str(pts.get("message") or ""),
                "endpoints": _endpoints(ts, domain),
            }
        )
    return {
        "task_id": task_id,
        "alias": str(tpl.get("alias") or ""),
        "state": state,
        "err_msg": str(ts.get("message") or ""),
        "create_time": task.creation_timestamp if task is not None else "",
        "start_time": str(ts.get("startTime") or ""),
        "end_time": str(ts.get("completionTime") or ""),
        "parties": parties,
        "progress": float(ts.get("progress") or 0.0),
    }


def job_status_detail(job: Resource, tasks: Mapping[str, Resource]) -> dict[str, Any]:
    """JobStatusDetail of a job; ``tasks`` are its KusciaTasks by name (taskID)."""
    st = job.status
    task_details = [
        task_status_detail(t, st, tasks.get(str(t.get("taskID") or ""))) for t in job.spec.get("tasks") or ()
    ]
    phase = str(st.get("phase") or "")
    err = str(st.get("message") or "")
    if not err and phase == JobPhase.FAILED:
        msgs = [
            f"Task[{t['alias']}]-Party[{p['domain_id']}]: {p['err_msg']}"
            for t in task_details
            for p in t["parties"]
            if p["state"] == TaskPhase.FAILED and p["err_msg"]
        ]
        err = "; ".join(msgs)
    return {
        "state": job_state(phase),
        "err_msg": err,
        "create_time": job.creation_timestamp,
        "start_time": str(st.get("startTime") or ""),
        "end_time": str(st.get("completionTime") or ""),
        "tasks": task_details,
        "stage_status_list": [
            {"domain_id": d, "state": s} for d, s in sorted((st.get("stageStatus") or {}).items())
        ],
        "approve_status_list": [
            {"domain_id": d, "state": s} for d, s in sorted((st.get("approveStatus") or {}).items())
        ],
    }


def query_data(job: Resource, tasks: Mapping[str, Resource]) -> dict[str, Any]:
    """QueryJobResponse.data; like Kuscia, ``tolerable`` is not returned."""
    spec = job.spec
    return {
        "job_id": job.name,
        "initiator": str(spec.get("initiator") or ""),
        "max_parallelism": int(spec.get("maxParallelism") or 1),
        "tasks": [task_config(t, with_tolerable=False) for t in spec.get("tasks") or ()],
        "status": job_status_detail(job, tasks),
        "custom_fields": custom_fields(job.labels),
    }


# -- client side -----------------------------------------------------------------------------------
def phase_from_state(state: str) -> str:
    return str(JobPhase.INITIALIZED) if state in (KUSCIAAPI_UNKNOWN_STATE, "") else state


def status_from_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A KusciaJob status (CRD field names) rebuilt from a JobStatusDetail."""
    status: dict[str, Any] = {"phase": phase_from_state(str(detail.get("state") or ""))}
    if detail.get("err_msg"):
        status["message"] = str(detail["err_msg"])
    if detail.get("start_time"):
        status["startTime"] = str(detail["start_time"])
    if detail.get("end_time"):
        status["completionTime"] = str(detail["end_time"])
    task_status = {
        str(t.get("task_id")): str(t.get("state") or TaskPhase.PENDING)
        for t in detail.get("tasks") or ()
        if t.get("task_id") and t.get("create_time")
    }
    if task_status:
        status["taskStatus"] = task_status
    for key, field in (("approveStatus", "approve_status_list"), ("stageStatus", "stage_status_list")):
        values = {str(e.get("domain_id")): str(e.get("state")) for e in detail.get(field) or ()}
        if values:
            status[key] = values
    return status


def job_from_query(data: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> Resource:
    detail = data.get("status") or {}
    return Resource(
        kind=KUSCIA_JOB,
        name=str(data.get("job_id") or ""),
        namespace=namespace,
        labels=dict(labels),
        spec=spec_from_query(data),
        status=status_from_detail(detail),
        creation_timestamp=str(detail.get("create_time") or ""),
    )


def tasks_from_detail(job_id: str, detail: Mapping[str, Any], namespace: str) -> list[Resource]:
    """KusciaTasks as far as a JobStatusDetail shows them (only created ones)."""
    out = []
    for t in detail.get("tasks") or ():
        if not t.get("task_id") or not t.get("create_time"):
            continue
        status: dict[str, Any] = {"phase": str(t.get("state") or TaskPhase.PENDING)}
        for key, field in (
            ("message", "err_msg"),
            ("startTime", "start_time"),
            ("completionTime", "end_time"),
        ):
            if t.get(field):
                status[key] = str(t[field])
        if t.get("progress"):
            status["progress"] = float(t["progress"])
        status["partyTaskStatus"] = [
            {
                "domainID": str(p.get("domain_id") or ""),
                "phase": str(p.get("state") or ""),
                "message": str(p.get("err_msg") or ""),
            }
            for p in t.get("parties") or ()
        ]
        out.append(
            Resource(
                kind=KUSCIA_TASK,
                name=str(t["task_id"]),
                namespace=namespace,
                annotations={ANNOTATION_JOB_ID: job_id, ANNOTATION_TASK_ALIAS: str(t.get("alias") or "")},
                status=status,
                creation_timestamp=str(t.get("create_time") or ""),
            )
        )
    return out
