"""What a KusciaJob's task template becomes: the KusciaTask object with Kuscia's labels (§1.3, §4.1, §4.6)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from reconciler.kuscia.labels import (
    ANNOTATION_JOB_ID,
    ANNOTATION_SELF_CLUSTER_AS_PARTICIPANT,
    ANNOTATION_TASK_ALIAS,
    CONTROLLER_KUSCIA_JOB,
    LABEL_CONTROLLER,
    LABEL_JOB_UID,
)
from reconciler.model import Resource, TaskPhase
from reconciler.model.objects import KUSCIA_TASK


def generate_task_id(job_name: str) -> str:
    """``<jobName>-<last group of a new UUID>`` (12 hex characters), as Kuscia's initiator does."""
    return f"{job_name}-{str(uuid.uuid4()).rsplit('-', 1)[-1]}"


def build_task(job: Resource, template: dict[str, Any]) -> Resource:
    """The KusciaTask for one template; name = taskID, parties reference the template's AppImage."""
    spec: dict[str, Any] = {
        "initiator": job.spec.get("initiator", ""),
        "taskInputConfig": template.get("taskInputConfig", ""),
        "parties": [
            {
                "domainID": p.get("domainID", ""),
                "appImageRef": template.get("appImage", ""),
                "role": p.get("role") or "",
                **(
                    {"bandwidthLimits": copy.deepcopy(p["bandwidthLimits"])}
                    if p.get("bandwidthLimits")
                    else {}
                ),
                "template": {},
            }
            for p in template.get("parties") or ()
        ],
    }
    if template.get("scheduleConfig"):
        spec["scheduleConfig"] = copy.deepcopy(template["scheduleConfig"])
    return Resource(
        kind=KUSCIA_TASK,
        name=str(template["taskID"]),
        namespace=job.namespace,
        labels={LABEL_CONTROLLER: CONTROLLER_KUSCIA_JOB, LABEL_JOB_UID: job.uid},
        annotations={
            ANNOTATION_JOB_ID: job.name,
            ANNOTATION_TASK_ALIAS: str(template.get("alias", "")),
            ANNOTATION_SELF_CLUSTER_AS_PARTICIPANT: "true",
        },
        spec=spec,
        status={"phase": str(TaskPhase.PENDING)},
    )
