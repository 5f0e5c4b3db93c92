"""KusciaAPI request/response fields <-> KusciaJob spec (kuscia-semantics.md §9). Pure functions.

Used both ways: ``kgitops serve`` turns CreateJobRequest into a KusciaJob; the ``kusciaapi`` backend turns a
KusciaJob into a CreateJobRequest and a QueryJobResponse back into a KusciaJob.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.kuscia.codes import AUTH_FAILED, REQUEST_VALIDATE
from reconciler.kuscia.labels import CUSTOM_FIELD_PREFIX
from reconciler.kuscia.names import RESOURCE_ID_RE
from reconciler.kusciaapi.errors import APIError
from reconciler.model import Resource, ScheduleMode
from reconciler.model.objects import KUSCIA_JOB

JOB_ID_RE = RESOURCE_ID_RE
BANDWIDTH = "kuscia.io/bandwidth"
# k8s resource.Quantity syntax, and the text Go's parser reports for a bad one
QUANTITY_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
# schedule_config (KusciaAPI name) -> scheduleConfig (CRD name), default when <= 0
SCHEDULE_FIELDS = (
    ("task_timeout_seconds", "lifecycleSeconds", 300),
    ("resource_reserved_seconds", "resourceReservedSeconds", 30),
    ("resource_reallocation_interval_seconds", "retryIntervalSeconds", 30),
)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's 1e999 is an infinite float
        return default


def _invalid(message: str) -> APIError:
    return APIError(REQUEST_VALIDATE, message)


def check_job_id(job_id: Any) -> str:
    if not job_id:
        raise _invalid("job id can not be empty")
    text = str(job_id)
    if not JOB_ID_RE.match(text):
        raise _invalid(
            f'Field "job_id" is invalid, invalid value: "{text}": regex used for validation is '
            f'"{JOB_ID_RE.pattern}" '
        )
    return text


# -- server side: CreateJobRequest -> KusciaJob ------------------------------------------------------------
def _resources(res: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not res:
        return None
    quantities: dict[str, str] = {}
    for field, key in (("cpu", "cpu"), ("memory", "memory"), ("bandwidth", BANDWIDTH)):
        value = str(res.get(field) or "").strip()
        if not value:
            continue
        if not QUANTITY_RE.match(value):
            raise _invalid(f"parse input {field} resource failed: {QUANTITY_ERROR}")
        quantities[key] = value
    if not quantities:
        return None
    # KusciaAPI uses the same quantities as limits and requests.
    return {"limits": dict(quantities), "requests": dict(quantities)}


def _party_to_crd(p: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"domainID": str(p.get("domain_id") or "")}
    if p.get("role"):
        out["role"] = str(p["role"])
    resources = _resources(p.get("resources"))
    if resources:
        out["resources"] = resources
    limits = []
    for bl in p.get("bandwidth_limits") or ():
        # Kuscia checks the rate before the destination (pkg/kusciaapi/service/job_service.go)
        if _int(bl.get("limit_kbps")) <= 0:
            raise _invalid("bandwidth limit kbps can not be zero or negative")
        if not bl.get("destination_id"):
            raise _invalid("bandwidth limit destination id can not be empty")
        limits.append({"destinationID": str(bl["destination_id"]), "limitKBps": _int(bl["limit_kbps"])})
    if limits:
        out["bandwidthLimits"] = limits
    return out


def job_from_create_request(req: Mapping[str, Any], namespace: str, self_domain: str = "") -> Resource:
    """Validate a CreateJobRequest in KusciaAPI's order and with its texts; build the KusciaJob."""
    job_id = check_job_id(req.get("job_id"))
    tasks = req.get("tasks") or []
    if not tasks:
        raise _invalid("tasks can not be empty")
    initiator = str(req.get("initiator") or "")
    if not initiator:
        raise _invalid("initiator can not be empty")
    if self_domain and initiator != self_domain:
        raise _invalid(f"initiator is {initiator}, but initiator must be {self_domain} in P2P")
    max_parallelism = _int(req.get("max_parallelism"))
    if max_parallelism <= 0:
        max_parallelism = 1
    for i, t in enumerate(tasks):
        if not t.get("alias"):
            raise _invalid(f"task alias can not be empty on tasks[{i}]")
        if not t.get("parties"):
            raise _invalid(f"parties can not be empty on tasks[{i}]")
        for p in t["parties"]:
            if not p.get("domain_id"):
                raise _invalid("party domain id can not be empty")
    if self_domain and not any(p.get("domain_id") == self_domain for t in tasks for p in t["parties"]):
        raise APIError(
            AUTH_FAILED,
            "domain's KusciaAPI could only create the job that the domain as a participant in the job",
        )
    templates = []
    for t in tasks:
        tpl: dict[str, Any] = {
            "alias": str(t["alias"]),
            "appImage": str(t.get("app_image") or ""),
            "taskInputConfig": str(t.get("task_input_config") or ""),
            "parties": [_party_to_crd(p) for p in t["parties"]],
            "priority": _int(t.get("priority")),
            "tolerable": bool(t.get("tolerable") or False),
        }
        if t.get("task_id"):  # Go's `taskID,omitempty`: an empty task_id never reaches the API server
            tpl["taskID"] = str(t["task_id"])
        if t.get("dependencies"):
            tpl["dependencies"] = [str(d) for d in t["dependencies"]]
        sc = t.get("schedule_config")
        if sc is not None:  # a task without schedule_config has none (QueryJob then answers null)
            tpl["scheduleConfig"] = {
                crd: (_int(sc.get(api)) if _int(sc.get(api)) > 0 else default)
                for api, crd, default in SCHEDULE_FIELDS
            }
        templates.append(tpl)
    labels = {f"{CUSTOM_FIELD_PREFIX}{k}": str(v) for k, v in (req.get("custom_fields") or {}).items()}
    spec = {
        "initiator": initiator,
        "scheduleMode": str(ScheduleMode.BEST_EFFORT),  # KusciaAPI always creates BestEffort jobs
        "maxParallelism": max_parallelism,
        "tasks": templates,
    }
    return Resource(kind=KUSCIA_JOB, name=job_id, namespace=namespace, labels=labels, spec=spec)


# -- both sides: KusciaJob spec -> TaskConfig (QueryJob) ---------------------------------------------------
def _party_to_api(p: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"domain_id": str(p.get("domainID") or ""), "role": str(p.get("role") or "")}
    res = p.get("resources") or {}
    quantities = res.get("limits") or res.get("requests") or {}
    if quantities:
        out["resources"] = {
            "cpu": str(quantities.get("cpu") or ""),
            "memory": str(quantities.get("memory") or ""),
            "bandwidth": str(quantities.get(BANDWIDTH) or ""),
        }
    if p.get("bandwidthLimits"):
        out["bandwidth_limits"] = [
            {"destination_id": str(b.get("destinationID") or ""), "limit_kbps": _int(b.get("limitKBps"))}
            for b in p["bandwidthLimits"]
        ]
    return out


def task_config(tpl: Mapping[str, Any], with_tolerable: bool) -> dict[str, Any]:
    sc = tpl.get("scheduleConfig") or {}
    out: dict[str, Any] = {
        "app_image": str(tpl.get("appImage") or ""),
        "parties": [_party_to_api(p) for p in tpl.get("parties") or ()],
        "alias": str(tpl.get("alias") or ""),
        "task_id": str(tpl.get("taskID") or ""),
        "dependencies": [str(d) for d in tpl.get("dependencies") or ()],
        "task_input_config": str(tpl.get("taskInputConfig") or ""),
        "priority": _int(tpl.get("priority")),
        # null when the template has none (protojson: an unset message)
        "schedule_config": (
            {api: _int(sc.get(crd)) for api, crd, _default in SCHEDULE_FIELDS if sc.get(crd)}
            if tpl.get("scheduleConfig")
            else None
        ),
    }
    if with_tolerable:
        out["tolerable"] = bool(tpl.get("tolerable") or False)
    return out


def custom_fields(labels: Mapping[str, str]) -> dict[str, str]:
    return {k[len(CUSTOM_FIELD_PREFIX) :]: v for k, v in labels.items() if k.startswith(CUSTOM_FIELD_PREFIX)}


# -- client side: KusciaJob -> CreateJobRequest, QueryJobResponse -> KusciaJob ---------------------
def label_to_field(key: str) -> str:
    """A custom field must become a valid label name on the node: `prefix/name` travels as `prefix..name`."""
    return key.replace("/", "..", 1)


def field_to_label(key: str) -> str:
    return key.replace("..", "/", 1)


def create_request(job: Resource) -> dict[str, Any]:
    spec = job.spec
    return {
        "job_id": job.name,
        "initiator": str(spec.get("initiator") or ""),
        "max_parallelism": _int(spec.get("maxParallelism"), 1) or 1,
        "tasks": [task_config(t, with_tolerable=True) for t in spec.get("tasks") or ()],
        "custom_fields": {label_to_field(k): v for k, v in job.labels.items()},
    }


def dropped_fields(request: Mapping[str, Any], query: Mapping[str, Any]) -> list[str]:
    """The fields of a CreateJobRequest that a node's QueryJob reply (``query``: its ``data``) lacks: what a
    node older than the current protocol ignored. ``tolerable`` is named along with them when the request
    used it: no reply carries it, and nodes that drop the others drop it too."""
    sent = list(request.get("tasks") or ())
    got = {str(t.get("alias") or ""): t for t in query.get("tasks") or ()}
    dropped: list[str] = []
    for t in sent:
        back = got.get(str(t.get("alias") or "")) or {}
        if t.get("schedule_config") and not back.get("schedule_config"):
            dropped.append("schedule_config")
        parties_back = {str(p.get("domain_id") or ""): p for p in back.get("parties") or ()}
        for p in t.get("parties") or ():
            if p.get("bandwidth_limits") and not (parties_back.get(str(p.get("domain_id") or "")) or {}).get(
                "bandwidth_limits"
            ):
                dropped.append("bandwidth_limits")
    if dropped and any(t.get("tolerable") for t in sent):
        dropped.append("tolerable")
    return sorted(set(dropped), key=dropped.index)


def _party_from_api(p: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"domainID": str(p.get("domain_id") or "")}
    if p.get("role"):
        out["role"] = str(p["role"])
    res = p.get("resources") or {}
    quantities = {
        key: str(res[field])
        for field, key in (("cpu", "cpu"), ("memory", "memory"), ("bandwidth", BANDWIDTH))
        if res.get(field)
    }
    if quantities:
        out["resources"] = {"limits": dict(quantities), "requests": dict(quantities)}
    if p.get("bandwidth_limits"):
        out["bandwidthLimits"] = [
            {"destinationID": str(b.get("destination_id") or ""), "limitKBps": _int(b.get("limit_kbps"))}
            for b in p["bandwidth_limits"]
        ]
    return out


def spec_from_query(data: Mapping[str, Any]) -> dict[str, Any]:
    tasks = []
    for t in data.get("tasks") or ():
        tpl: dict[str, Any] = {
            "alias": str(t.get("alias") or ""),
            "appImage": str(t.get("app_image") or ""),
            "taskInputConfig": str(t.get("task_input_config") or ""),
            "parties": [_party_from_api(p) for p in t.get("parties") or ()],
            "priority": _int(t.get("priority")),
        }
        if t.get("task_id"):  # `taskID,omitempty`: not generated yet
            tpl["taskID"] = str(t["task_id"])
        if t.get("dependencies"):
            tpl["dependencies"] = [str(d) for d in t["dependencies"]]
        if "tolerable" in t:
            tpl["tolerable"] = bool(t["tolerable"])
        sc = t.get("schedule_config") or {}
        if sc:
            tpl["scheduleConfig"] = {
                crd: _int(sc[api]) for api, crd, _d in SCHEDULE_FIELDS if _int(sc.get(api)) > 0
            }
        tasks.append(tpl)
    return {
        "initiator": str(data.get("initiator") or ""),
        "scheduleMode": str(ScheduleMode.BEST_EFFORT),
        "maxParallelism": _int(data.get("max_parallelism"), 1) or 1,
        "tasks": tasks,
    }
