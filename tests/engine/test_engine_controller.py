"""The job controller behind LocalBackend: approvals, stage commands and their refusals, validation,
the KusciaTask objects it creates. Tasks run ``true`` as real processes."""

from __future__ import annotations

import pytest

from reconciler.backends.base import BackendError, Invalid, NotFound, PhaseError
from reconciler.backends.local import LocalBackend
from reconciler.model import ObjectRef, Stage

from .engine_fixtures import appimage, kjob, store_legacy


def phase(b: LocalBackend, name: str) -> str:
    job = b.get(ObjectRef.of("KusciaJob", name))
    assert job is not None
    return str(job.status.get("phase"))


def drive_until_phase(b: LocalBackend, name: str, *phases: str, timeout: float = 10) -> None:
    assert b.run_until(lambda: phase(b, name) in phases, timeout=timeout), phase(b, name)


def two_party_job(name: str = "j", partner: str = "dave") -> object:
    return kjob(name, [{"alias": "a", "parties": [{"domainID": "alice"}, {"domainID": partner}]}])


def test_engine_partner_domain_must_approve(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    job = backend.create(two_party_job())  # type: ignore[arg-type]
    drive_until_phase(backend, "j", "AwaitingApproval")
    live = backend.get(job.ref)
    assert live is not None and live.status["approveStatus"] == {"alice": "JobAccepted"}
    with pytest.raises(BackendError, match="carol is not a party"):
        backend.approve(job.ref, "carol", True)
    backend.approve(job.ref, "dave", True)
    drive_until_phase(backend, "j", "Succeeded")
    done = backend.get(job.ref)
    assert done is not None
    assert done.status["approveStatus"] == {"alice": "JobAccepted", "dave": "JobAccepted"}
    assert done.status["startTime"] and done.status["completionTime"] and done.status["lastReconcileTime"]


def test_engine_rejection_ends_in_approval_reject(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    job = backend.create(two_party_job())  # type: ignore[arg-type]
    drive_until_phase(backend, "j", "AwaitingApproval")
    backend.approve(job.ref, "dave", False)
    drive_until_phase(backend, "j", "ApprovalReject")
    live = backend.get(job.ref)
    assert live is not None
    assert live.status["reason"] == "Party: dave approval reject."
    assert live.status["completionTime"]
    assert backend.list("KusciaTask") == []
    with pytest.raises(PhaseError):
        backend.approve(job.ref, "dave", True)


def test_engine_auto_approve_skips_the_wait(tmp_path) -> None:  # type: ignore[no-untyped-def]
    b = LocalBackend(tmp_path / "s", trusted_appimages=["app"], auto_approve=["bob"], autostart=False)
    try:
        b.create(appimage("app", "true"))
        b.create(two_party_job(partner="bob"))  # type: ignore[arg-type]
        drive_until_phase(b, "j", "Succeeded")
    finally:
        b.close()


def test_engine_stage_refusals_name_phase_and_allowed(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    job = backend.create(kjob("j", [{"alias": "a"}]))
    drive_until_phase(backend, "j", "Succeeded")
    with pytest.raises(PhaseError) as err:
        backend.stage(job.ref, Stage.SUSPEND)
    assert "is Succeeded" in str(err.value) and "Running" in str(err.value)
    assert err.value.phase == "Succeeded" and err.value.allowed == ("Running",)
    with pytest.raises(PhaseError, match="restart applies only to a job that is Failed or Suspended"):
        backend.stage(job.ref, Stage.RESTART)
    with pytest.raises(NotFound):
        backend.stage(ObjectRef.of("KusciaJob", "nope"), Stage.STOP)


def test_engine_validation_failure_and_d6_restart_refused(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    cyclic = kjob("j", [{"alias": "a", "dependencies": ["b"]}, {"alias": "b", "dependencies": ["a"]}])
    with pytest.raises(Invalid, match="KJ005 dependencies form a cycle: a → b → a"):
        backend.create(cyclic)  # admission refuses it; one stored before admission is failed by the engine
    job = store_legacy(backend, cyclic)
    drive_until_phase(backend, "j", "Failed")
    live = backend.get(job.ref)
    assert live is not None
    assert live.status["reason"] == "ValidateFailed"
    cond = next(c for c in live.status["conditions"] if c["type"] == "JobValidated")
    assert (
        cond["status"] == "False"
        and cond["message"] == "Validate job failed, validate failed: cycled dependencies"
    )
    with pytest.raises(PhaseError, match="failed validation and can not be restarted"):
        backend.stage(job.ref, Stage.RESTART)


def test_engine_tolerable_dependency_rejected(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    tolerable_dep = kjob("j", [{"alias": "a", "tolerable": True}, {"alias": "b", "dependencies": ["a"]}])
    with pytest.raises(Invalid, match="KJ006"):
        backend.create(tolerable_dep)
    store_legacy(backend, tolerable_dep)
    drive_until_phase(backend, "j", "Failed")
    live = backend.get(ObjectRef.of("KusciaJob", "j"))
    assert live is not None and "depends on tolerable task a" in live.status["conditions"][0]["message"]


def test_engine_created_tasks_carry_kuscia_metadata(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    without_id = kjob("gen", [{"alias": "a"}, {"alias": "b", "dependencies": ["a"]}])
    del without_id.spec["tasks"][0]["taskID"]
    job = backend.create(without_id)
    drive_until_phase(backend, "gen", "Succeeded")
    live = backend.get(job.ref)
    assert live is not None
    generated = live.spec["tasks"][0]["taskID"]
    assert generated.startswith("gen-") and len(generated) == len("gen-") + 12
    assert live.annotations["kuscia.secretflow/initiator"] == "alice"
    task = backend.get(ObjectRef.of("KusciaTask", generated))
    assert task is not None
    assert task.labels == {
        "kuscia.secretflow/controller": "kuscia-job",
        "kuscia.secretflow/job-uid": live.uid,
    }
    assert task.annotations["kuscia.secretflow/job-id"] == "gen"
    assert task.annotations["kuscia.secretflow/task-alias"] == "a"
    assert task.spec["initiator"] == "alice" and task.spec["parties"][0]["appImageRef"] == "app"
    assert set(live.status["taskStatus"]) == {generated, "gen-b"}
    assert backend.list("KusciaTask", labels={"kuscia.secretflow/job-uid": live.uid})


def test_engine_inventory_and_metadata(backend: LocalBackend) -> None:
    refs = {ObjectRef.of("KusciaJob", "x"), ObjectRef.of("AppImage", "app")}
    backend.set_inventory("git:repo", refs)
    assert backend.get_inventory("git:repo") == refs
    assert backend.get_inventory("other") == set()
    app = backend.create(appimage("app", "true"))
    updated = backend.update_metadata(app.ref, labels={"team": "a"}, annotations={"x": "1"})
    assert updated.labels == {"team": "a"}
    updated = backend.update_metadata(app.ref, labels={"team": None})
    assert updated.labels == {}
    with pytest.raises(BackendError, match="already exists"):
        backend.create(appimage("app", "true"))


def test_engine_runs_a_job_outside_cross_domain_which_kuscia_would_not(backend: LocalBackend) -> None:
    """Documented in the README ("Namespaces"): validation warns (META005), the embedded engine runs it."""
    backend.create(appimage("app", "true"))
    job = kjob("elsewhere", [{"alias": "a"}])
    job.namespace = "team-a"
    backend.create(job)  # admitted: a warning, not an error
    ref = ObjectRef.of("KusciaJob", "elsewhere", "team-a")

    def done() -> bool:
        live = backend.get(ref)
        return live is not None and live.status.get("phase") == "Succeeded"

    assert backend.run_until(done, timeout=15)
    task = backend.get(ObjectRef.of("KusciaTask", "elsewhere-a", "team-a"))
    assert task is not None and task.status["phase"] == "Succeeded"
