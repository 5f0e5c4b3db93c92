"""The KusciaAPI wire mapping (kuscia-semantics.md §9), as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kusciaapi.errors import APIError
from reconciler.kusciaapi.mapping import create_request, job_from_create_request
from reconciler.kusciaapi.status import job_state, job_status_detail, query_data, status_from_detail
from reconciler.model import Resource


def request(**overrides: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "job_id": "j1",
        "initiator": "alice",
        "max_parallelism": 0,
        "tasks": [
            {
                "alias": "a",
                "task_id": "",
                "app_image": "img",
                "tolerable": True,
                "parties": [
                    {"domain_id": "alice", "resources": {"cpu": "500m", "memory": "1Gi"}},
                    {
                        "domain_id": "bob",
                        "bandwidth_limits": [{"destination_id": "alice", "limit_kbps": 100}],
                    },
                ],
                "schedule_config": {"task_timeout_seconds": 60},
            }
        ],
        "custom_fields": {"team": "risk"},
    }
    req.update(overrides)
    return req


def test_create_request_becomes_a_best_effort_job_with_kuscia_defaults() -> None:
    job = job_from_create_request(request(), "cross-domain")
    assert job.spec["scheduleMode"] == "BestEffort" and job.spec["maxParallelism"] == 1
    task = job.spec["tasks"][0]
    assert "taskID" not in task  # omitted, as Go's omitempty does; the controller generates one
    assert task["scheduleConfig"] == {
        "lifecycleSeconds": 60,
        "resourceReservedSeconds": 30,
        "retryIntervalSeconds": 30,
    }
    assert task["parties"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }
    assert task["parties"][1]["bandwidthLimits"] == [{"destinationID": "alice", "limitKBps": 100}]
    assert job.labels == {"kuscia.job.custom-fields/team": "risk"}


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"tasks": [{"alias": "a", "parties": [{"domain_id": "alice", "resources": {"cpu": "lots"}}]}]},
            11100,
            "parse input cpu resource failed: quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        (
            {
                "tasks": [
                    {
                        "alias": "a",
                        "parties": [
                            {
                                "domain_id": "alice",
                                "bandwidth_limits": [{"destination_id": "bob", "limit_kbps": 0}],
                            }
                        ],
                    }
                ]
            },
            11100,
            "bandwidth limit kbps can not be zero or negative",
        ),
        (
            {
                "tasks": [
                    {
                        "alias": "a",
                        "parties": [{"domain_id": "alice", "bandwidth_limits": [{"limit_kbps": 5}]}],
                    }
                ]
            },
            11100,
            "bandwidth limit destination id can not be empty",
        ),
    ],
)
def test_resource_errors(change: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(APIError) as info:
        job_from_create_request(request(**change), "cross-domain")
    assert (info.value.code, info.value.message) == (code, message)


def test_a_domain_node_only_creates_its_own_jobs() -> None:
    with pytest.raises(APIError, match="initiator is alice, but initiator must be carol in P2P"):
        job_from_create_request(request(), "cross-domain", self_domain="carol")
    with pytest.raises(APIError) as info:
        job_from_create_request(request(initiator="carol"), "cross-domain", self_domain="carol")
    assert info.value.code == 11102


def test_state_mapping_and_error_message() -> None:
    assert [job_state(p) for p in ("", "Pending", "initialized", "Initialized", "Running", "Suspended")] == [
        "Pending",
        "Pending",
        "Unknown",
        "Unknown",
        "Running",
        "Suspended",
    ]
    job = job_from_create_request(
        request(
            tasks=[
                {"alias": "a", "task_id": "t-a", "parties": [{"domain_id": "alice"}]},
                {"alias": "b", "task_id": "t-b", "parties": [{"domain_id": "alice"}], "dependencies": ["a"]},
            ]
        ),
        "cross-domain",
    )
    job.status = {"phase": "Failed", "taskStatus": {"t-a": "Failed"}}
    task = Resource(
        kind="KusciaTask",
        name="t-a",
        creation_timestamp="2023-07-27T01:55:46Z",
        status={
            "phase": "Failed",
            "partyTaskStatus": [{"domainID": "alice", "phase": "Failed", "message": "exit 1"}],
        },
    )
    detail = job_status_detail(job, {"t-a": task})
    assert detail["err_msg"] == "Task[a]-Party[alice]: exit 1"
    assert [(t["task_id"], t["state"]) for t in detail["tasks"]] == [("t-a", "Failed"), ("t-b", "Pending")]
    assert status_from_detail(detail)["taskStatus"] == {"t-a": "Failed"}  # never-created t-b is not a task
    job.status["message"] = "Party: alice execute the cmd: Stop."
    assert job_status_detail(job, {})["err_msg"] == "Party: alice execute the cmd: Stop."


def test_query_omits_tolerable_but_the_client_sends_it() -> None:
    job = job_from_create_request(request(), "cross-domain")
    assert "tolerable" not in query_data(job, {})["tasks"][0]
    assert create_request(job)["tasks"][0]["tolerable"] is True
