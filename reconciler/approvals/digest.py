"""The digest that binds an approval to what it approves: one KusciaJob spec, not just the job's name.

``job_digest(name, spec)`` is ``sha256:<64 hex>`` over a canonical form of the spec, so the same job reads
the same wherever it is seen: in a manifest in Git (``kgitops approve``, the GitHub review flow, the sync
that judges the record) and as the backend holds it (``apply``, before an approval is sent). The canonical
form is the *effective* spec:

- fields that are null, ``{}`` or ``[]`` are dropped (Kubernetes and Kuscia treat them as absent);
- every CRD default is filled in (``scheduleMode: Strict``, ``maxParallelism: 1``, ``tolerable: false``, ...;
  the defaults come from the KusciaJob schema, applied as the API server applies them);
- a task's ``taskID`` that is empty or has the form Kuscia's initiator generates for an empty one
  (``<jobName>-<12 hex>``; Kuscia's job controller, ``setJobTaskID``/``generateTaskID``) is dropped;
- whole-number floats are integers (``1.0`` is ``1``).

Anything else that differs (a party, an image, an input, a dependency) changes the digest, so a changed spec
needs a new approval.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from typing import Any

from reconciler.model.objects import KUSCIA_JOB
from reconciler.validate.defaults import default_value
from reconciler.validate.schema import load_schema

PREFIX = "sha256:"
JOB_KIND = KUSCIA_JOB


@cache
def _spec_schema() -> dict[str, Any]:
    schema = load_schema(JOB_KIND)
    spec = (schema.get("properties") or {}).get("spec") or {}
    return spec if isinstance(spec, dict) else {}


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _drop_empty(v)
            if v is None or v == {} or v == []:
                continue
            out[str(k)] = v
        return out
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_spec(name: str, spec: Any) -> Any:
    """The effective spec of job ``name`` that the digest covers (see the module docstring)."""
    if not isinstance(spec, dict):
        return spec
    effective = _drop_empty(default_value(_drop_empty(spec), _spec_schema()))
    generated = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{12}}$")
    tasks = effective.get("tasks")
    if isinstance(tasks, list):
        for task in tasks:
            if isinstance(task, dict):
                task_id = task.get("taskID")
                if isinstance(task_id, str) and generated.match(task_id):
                    del task["taskID"]
    return effective


def job_digest(name: str, spec: Any) -> str:
    """``sha256:<hex>`` of the canonical spec of KusciaJob ``name`` (any JSON-like value is accepted)."""
    text = json.dumps(
        canonical_spec(name, spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()
