"""What a KusciaJob's task template becomes: the KusciaTask object with Kuscia's labels (§1.3, §4.1, §4.6)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from reconciler.model import Resource

LABEL_CONTROLLER = "kuscia.secretflow/controller"
LABEL_JOB_UID = "kuscia.secretflow/job-uid"
ANN_JOB_ID = "kuscia.secretflow/job-id"
ANN_TASK_ALIAS = "kuscia.secretflow/task-alias"
ANN_SELF_PARTICIPANT = "kuscia.secretflow/self-cluster-as-participant"
ANN_SELF_INITIATOR = "kuscia.secretflow/self-cluster-as-initiator"
ANN_INITIATOR = "kuscia.secretflow/initiator"
ANN_SELF_PARTIES = "kuscia.secretflow/interconn-self-parties"
LABEL_STAGE = "kuscia.secretflow/job-stage"
LABEL_STAGE_TRIGGER = "kuscia.secretflow/job-stage-trigger"
LABEL_STAGE_VERSION = "kuscia.secretflow/job-stage-version"
CONTROLLER_NAME = "kuscia-job"


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
        kind="KusciaTask",
        name=str(template["taskID"]),
        namespace=job.namespace,
        labels={LABEL_CONTROLLER: CONTROLLER_NAME, LABEL_JOB_UID: job.uid},
        annotations={
            ANN_JOB_ID: job.name,
            ANN_TASK_ALIAS: str(template.get("alias", "")),
            ANN_SELF_PARTICIPANT: "true",
        },
        spec=spec,
        status={"phase": "Pending"},
    )
