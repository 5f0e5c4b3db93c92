"""The job/task views: every task of the spec is shown, with why it never ran (D9), whatever the backend."""

from __future__ import annotations

from typing import Any

from reconciler.model import Resource
from reconciler.views import TaskState, endpoints_by_domain, job_info, task_info


def _job(phase: str, task_status: dict[str, str], tasks: list[dict[str, Any]], **status: Any) -> Resource:
    return Resource(
        kind="KusciaJob",
        name="j",
        spec={"initiator": "alice", "tasks": tasks},
        status={"phase": phase, "taskStatus": task_status, **status},
        creation_timestamp="2026-01-02T03:04:05Z",
    )


def _t(alias: str, *deps: str, task_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "alias": alias,
        "taskID": task_id if task_id is not None else f"j-{alias}",
        "appImage": "img",
        "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
        **({"dependencies": list(deps)} if deps else {}),
        **extra,
    }


def _phases(info: Any) -> dict[str, str]:
    return {t.alias: t.phase.value for t in info.tasks}


def test_tasks_behind_a_failed_dependency_are_blocked_transitively_with_the_reason() -> None:
    job = _job(
        "Running",
        {"j-a": "Failed", "j-x": "Running"},
        [_t("a"), _t("b", "a"), _t("c", "b"), _t("x"), _t("y", "x")],
        scheduleMode="BestEffort",
    )
    info = job_info(job)
    assert _phases(info) == {"a": "Failed", "b": "Blocked", "c": "Blocked", "x": "Running", "y": "NotCreated"}
    reasons = {t.alias: t.reason for t in info.tasks}
    assert reasons["b"] == "dependency `a` failed"
    assert reasons["c"] == "dependency `b` is blocked"
    assert reasons["y"] == "waiting for `x`"
    assert not info.tasks[1].created and info.tasks[0].created


def test_a_task_the_job_never_reached_says_the_job_ended_first() -> None:
    # Strict: a failed, its independent sibling b was never started
    info = job_info(_job("Failed", {"j-a": "Failed"}, [_t("a"), _t("b")]))
    b = info.tasks[1]
    assert b.phase is TaskState.NOT_CREATED
    assert b.reason == "the job ended Failed before this task started"


def test_waiting_reasons_name_the_slot_or_the_job_phase() -> None:
    running = job_info(_job("Running", {"j-a": "Running"}, [_t("a"), _t("b")]))
    assert running.tasks[1].reason == "ready; waiting for a free slot (maxParallelism 1)"
    pending = job_info(_job("AwaitingApproval", {}, [_t("a")]))
    assert pending.tasks[0].reason == "waiting for the job to start (job is AwaitingApproval)"


def test_kuscia_lower_case_initialized_reads_as_Initialized() -> None:  # D8
    assert job_info(_job("initialized", {}, [_t("a")])).phase == "Initialized"
    assert job_info(_job("", {}, [_t("a")])).phase == "Initialized"


def test_dependencies_are_aliases_even_when_task_ids_differ() -> None:  # D1
    tasks = [_t("psi", task_id="j-1a2b3c"), _t("split", "psi", task_id="j-4d5e6f")]
    info = job_info(_job("Running", {"j-1a2b3c": "Failed"}, tasks))
    assert _phases(info) == {"psi": "Failed", "split": "Blocked"}
    assert info.tasks[0].name == "j-1a2b3c"


def test_live_task_objects_win_over_task_status_and_give_parties_endpoints_and_times() -> None:
    task = Resource(
        kind="KusciaTask",
        name="j-a",
        annotations={"kuscia.secretflow/job-id": "j", "kuscia.secretflow/task-alias": "a"},
        status={
            "phase": "Running",
            "progress": 0.5,
            "startTime": "2023-08-21T07:43:15Z",
            "partyTaskStatus": [{"domainID": "alice", "phase": "Running"}],
            "serviceStatuses": {
                "alice/j-a-0-fed": {"namespace": "alice", "serviceName": "j-a-0-fed"},
                "carol/j-a-spu": {
                    "namespace": "carol",
                    "serviceName": "j-a-spu",
                    "portName": "spu",
                    "portNumber": 4,
                    "endpoints": ["127.0.0.1:4"],
                    "scope": "Cluster",
                },
            },
            "allocatedPorts": [{"domainID": "bob", "namedPort": {"spu": 20001}}],
        },
    )
    info = job_info(_job("Running", {"j-a": "Pending"}, [_t("a")]), {"j-a": task})
    t = info.tasks[0]
    assert t.phase is TaskState.RUNNING and t.progress == 0.5
    assert t.start_time is not None and t.start_time.isoformat() == "2023-08-21T07:43:15+00:00"
    parties = {p.domain_id: p for p in t.parties}
    assert parties["alice"].phase == "Running"
    assert [(e.port_name, e.endpoint) for e in parties["alice"].endpoints] == [("fed", "j-a-0-fed.alice.svc")]
    assert [(e.port_name, e.endpoint) for e in parties["bob"].endpoints] == [("spu", "127.0.0.1:20001")]
    assert parties["bob"].phase == ""  # bob has not reported
    carol = endpoints_by_domain(task.status)["carol"]
    assert [(e.port_name, e.endpoint, e.scope) for e in carol] == [("spu", "127.0.0.1:4", "Cluster")]


def test_approval_and_stage_per_party_and_to_dict_round_trip() -> None:
    job = _job(
        "AwaitingApproval",
        {},
        [_t("a")],
        approveStatus={"alice": "JobAccepted"},
        stageStatus={"alice": "JobCreateStageSucceeded"},
    )
    info = job_info(job)
    assert [(p.domain_id, p.approval, p.stage) for p in info.parties] == [
        ("alice", "JobAccepted", "JobCreateStageSucceeded"),
        ("bob", "", ""),
    ]
    d = info.to_dict()
    assert d["acceptTime"] == "2026-01-02T03:04:05Z"
    assert d["tasks"][0]["phase"] == "NotCreated" and d["tasks"][0]["created"] is False


def test_a_spec_kuscia_would_fail_on_still_shows() -> None:
    job = _job("Failed", {}, [_t("a", "missing"), _t("b", "c"), _t("c", "b")], scheduleMode="Bogus")
    info = job_info(job)
    assert info.schedule_mode == "Strict"
    assert {t.phase for t in info.tasks} == {TaskState.BLOCKED}
    assert "does not exist or is part of a cycle" in info.tasks[0].reason


def test_task_info_of_a_bare_task_reads_its_job_and_alias_from_annotations() -> None:
    task = Resource(
        kind="KusciaTask",
        name="t1",
        status={},
        annotations={"kuscia.secretflow/job-id": "j", "kuscia.secretflow/task-alias": "a"},
        spec={"parties": [{"domainID": "alice", "appImageRef": "img"}]},
    )
    info = task_info(task)
    assert (info.job, info.alias, info.phase, info.app_image) == ("j", "a", TaskState.PENDING, "img")
