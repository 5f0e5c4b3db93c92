"""``job list``'s table rows (``views.summary.job_summary``) say what the job's full view says: the same
phase, parties, task counts and times as ``job_info``, for ordinary jobs and odd ones alike."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import Resource
from reconciler.views import job_info
from reconciler.views.summary import job_summary, summary_of


def _t(alias: str, *deps: str, **extra: Any) -> dict[str, Any]:
    return {
        "alias": alias,
        "taskID": f"j-{alias}",
        "appImage": "img",
        "parties": [{"domainID": "alice"}, {"domainID": "bob", "role": "server"}],
        **({"dependencies": list(deps)} if deps else {}),
        **extra,
    }


def _job(spec: Any, status: Any, **meta: Any) -> Resource:
    return Resource(
        kind="KusciaJob",
        name="j",
        spec=spec,
        status=status,
        labels={"team": "risk"},
        annotations={"kuscia.secretflow/job-priority": "HIGH"} if meta.pop("priority", False) else {},
        creation_timestamp="2026-01-02T03:04:05Z",
        **meta,
    )


TASKS = [_t("a"), _t("b", "a"), _t("c", "b"), _t("x"), _t("y", "x")]
CASES = {
    "running, a failed subtree": (
        {"initiator": "alice", "tasks": TASKS},
        {"phase": "Running", "taskStatus": {"j-a": "Failed", "j-x": "Succeeded", "j-y": "Succeeded"},
         "startTime": "2026-01-02T03:05:00Z", "lastReconcileTime": "2026-01-02T03:06:00+08:00"},
    ),
    "succeeded, best effort, parallel": (
        {"initiator": "bob", "tasks": TASKS, "scheduleMode": "BestEffort", "maxParallelism": 3},
        {"phase": "Succeeded", "taskStatus": {f"j-{a}": "Succeeded" for a in "abcxy"},
         "completionTime": "2026-01-02T04:00:00Z", "reason": "done", "message": "all tasks"},
    ),
    "an unknown scheduleMode (Kuscia lets it through)": (
        {"initiator": "alice", "tasks": TASKS, "scheduleMode": "Sometimes", "maxParallelism": 4},
        {"phase": "Running", "taskStatus": {"j-a": "Succeeded"}},
    ),
    "a repeated alias: its first task's view": (
        {"initiator": "alice", "tasks": [_t("a"), {**_t("a"), "taskID": "j-a2"}, _t("b")]},
        {"phase": "Running", "taskStatus": {"j-a2": "Succeeded", "j-b": "Succeeded"}},
    ),
    "parties only in approveStatus and stageStatus, Kuscia's initialized": (
        {"initiator": "alice", "tasks": [_t("a")]},
        {"phase": "initialized", "approveStatus": {"carol": "JobAccepted", "alice": "JobAccepted"},
         "stageStatus": {"dave": "JobCreateStageSucceeded"}},
    ),
    "no tasks, no status": ({"initiator": "alice"}, {}),
    "no taskID yet, a phase that is not a word of ours": (
        {"initiator": "alice", "tasks": [{**_t("a"), "taskID": ""}, _t("b")]},
        {"phase": "Weird", "taskStatus": {"j-b": None}},
    ),
    "odd shapes the full reading copes with": (
        {"initiator": 7, "tasks": [{**_t("a"), "priority": 2.0, "dependencies": "ab"},
                                   {**_t("b"), "parties": [{"domainID": "eve", "bandwidthLimits": ()}]}],
         "maxParallelism": True},
        {"phase": "Failed", "taskStatus": {"j-a": "Succeeded"}, "conditions": {"not": "a list"}},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("priority", [False, True])
def test_a_summary_is_what_the_full_view_shows(name: str, priority: bool) -> None:
    spec, status = CASES[name]
    job = _job(spec, status, priority=priority)
    assert job_summary(job) == summary_of(job_info(job))


def test_the_counts_and_parties_a_table_shows() -> None:
    spec, status = CASES["running, a failed subtree"]
    row = job_summary(_job(spec, status))
    assert (row.tasks_succeeded, row.tasks_total, row.party_domains) == (2, 5, ["alice", "bob"])
    spec, status = CASES["parties only in approveStatus and stageStatus, Kuscia's initialized"]
    row = job_summary(_job(spec, status))
    assert (row.phase, row.party_domains) == ("Initialized", ["alice", "bob", "carol", "dave"])


@pytest.mark.parametrize(
    "spec",
    [
        {"initiator": "alice", "tasks": ["not a mapping"]},
        {"initiator": "alice", "tasks": [{**_t("a"), "priority": "high"}]},
        {"initiator": "alice", "tasks": [{**_t("a"), "scheduleConfig": "soon"}]},
    ],
)
def test_a_spec_the_full_view_refuses_is_refused_alike(spec: dict[str, Any]) -> None:
    """Nothing admission lets in looks like this; a list fails on it exactly as it did before."""
    job = _job(spec, {"phase": "Running"})
    with pytest.raises(Exception) as full:
        job_info(job)
    with pytest.raises(type(full.value)):
        job_summary(job)
