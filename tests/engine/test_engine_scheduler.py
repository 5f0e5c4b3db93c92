"""The pure scheduler, rule by rule (kuscia-semantics.md §4 and the deviations D1, D2, D5, D9)."""

from __future__ import annotations

from typing import Any

from reconciler.engine.scheduler import schedule, view_phases
from reconciler.model import JobPhase, JobSpec, TaskPhase

S, F, R, P = TaskPhase.SUCCEEDED, TaskPhase.FAILED, TaskPhase.RUNNING, TaskPhase.PENDING


def job(tasks: list[dict[str, Any]], mode: str = "Strict", mp: int = 1) -> JobSpec:
    full = []
    for t in tasks:
        full.append(
            {
                "taskID": t["alias"],
                "appImage": "x",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "a"}],
                **t,
            }
        )
    return JobSpec.from_dict({"initiator": "a", "scheduleMode": mode, "maxParallelism": mp, "tasks": full})


def test_engine_chain_runs_one_after_the_other() -> None:
    spec = job([{"alias": "a"}, {"alias": "b", "dependencies": ["a"]}, {"alias": "c", "dependencies": ["b"]}])
    assert schedule(spec, {}).start == ("a",)
    assert schedule(spec, {"a": R}).start == ()
    assert schedule(spec, {"a": S}).start == ("b",)
    d = schedule(spec, {"a": S, "b": S, "c": S})
    assert d.phase is JobPhase.SUCCEEDED


def test_engine_diamond_waits_for_both_branches() -> None:
    spec = job(
        [
            {"alias": "a"},
            {"alias": "b", "dependencies": ["a"]},
            {"alias": "c", "dependencies": ["a"]},
            {"alias": "d", "dependencies": ["b", "c"]},
        ],
        mp=4,
    )
    assert schedule(spec, {"a": S}).start == ("b", "c")
    assert schedule(spec, {"a": S, "b": S, "c": R}).ready == ()
    assert schedule(spec, {"a": S, "b": S, "c": S}).start == ("d",)


def test_engine_parallelism_counts_pending_and_running_only() -> None:
    spec = job([{"alias": x} for x in "abcde"], mode="BestEffort", mp=2)
    assert schedule(spec, {"a": P, "b": R}).start == ()
    d = schedule(spec, {"a": F, "b": S})
    assert d.start == ("c", "d") and d.ready == ("c", "d", "e")


def test_engine_priority_ties_keep_spec_order_beyond_twelve() -> None:
    # D5: Kuscia's unstable sort may reorder more than 12 equal priorities; ours never does.
    tasks = [{"alias": f"t{i:02d}", "priority": 5 if i % 3 else 9} for i in range(20)]
    d = schedule(job(tasks, mp=128), {})
    nines = [t["alias"] for t in tasks if t["priority"] == 9]
    fives = [t["alias"] for t in tasks if t["priority"] == 5]
    assert d.ready == tuple(nines + fives)


def test_engine_strict_fails_at_the_first_critical_failure() -> None:
    spec = job([{"alias": "a"}, {"alias": "b"}, {"alias": "c"}], mp=2)
    d = schedule(spec, {"a": F, "b": R})
    assert d.phase is JobPhase.FAILED and d.start == ()
    assert d.ready == ("c",)  # readiness ignores the phase (§4.2); nothing starts in a Failed job
    assert "a" in d.message


def test_engine_best_effort_keeps_going_until_quiet() -> None:
    spec = job([{"alias": "a"}, {"alias": "b"}, {"alias": "c", "dependencies": ["a"]}], mode="BestEffort")
    d = schedule(spec, {"a": F})
    assert d.phase is JobPhase.RUNNING and d.start == ("b",)
    assert d.blocked == ("c",)
    assert schedule(spec, {"a": F, "b": S}).phase is JobPhase.FAILED


def test_engine_tolerable_leaf_failure_still_succeeds() -> None:
    spec = job([{"alias": "a"}, {"alias": "b", "tolerable": True, "dependencies": ["a"]}])
    assert schedule(spec, {"a": S, "b": F}).phase is JobPhase.SUCCEEDED


def test_engine_d1_task_ids_different_from_aliases_change_nothing() -> None:
    base = [{"alias": "a"}, {"alias": "b"}, {"alias": "c", "dependencies": ["a"]}]
    renamed = [{**t, "taskID": f"job-{t['alias']}-x"} for t in base]
    for given in ({"a": S, "b": F}, {"a": S}, {"a": F}):
        assert schedule(job(base, "BestEffort"), given) == schedule(job(renamed, "BestEffort"), given)
    # Kuscia would fail this job at once (dependency look-up by taskID); D1: c is ready and starts.
    assert schedule(job(renamed, "BestEffort"), {"a": S, "b": F}).start == ("c",)


def test_engine_d2_failed_tolerable_dependency_never_hangs() -> None:
    # validation rejects this shape, but the engine must still reach a final phase
    spec = job([{"alias": "a", "tolerable": True}, {"alias": "b", "dependencies": ["a"]}])
    d = schedule(spec, {"a": F})
    assert d.phase is JobPhase.FAILED and d.blocked == ("b",)
    spec2 = job(
        [
            {"alias": "a"},
            {"alias": "t", "tolerable": True, "dependencies": ["a"]},
            {"alias": "u", "tolerable": True, "dependencies": ["t"]},
        ]
    )
    d2 = schedule(spec2, {"a": S, "t": F})
    assert d2.phase is JobPhase.SUCCEEDED and d2.blocked == ("u",)


def test_engine_d9_views_show_blocked_tasks() -> None:
    spec = job(
        [
            {"alias": "a"},
            {"alias": "b", "dependencies": ["a"]},
            {"alias": "c", "dependencies": ["b"]},
            {"alias": "d"},
        ],
        mode="BestEffort",
    )
    assert view_phases(spec, {"a": F}) == {"a": "Failed", "b": "Blocked", "c": "Blocked", "d": "NotCreated"}
