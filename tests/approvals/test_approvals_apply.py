"""Decisions reach the embedded engine: a job waits for every party, a rejection ends it, forgeries don't."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from approvals_support import ALICE, BOB, CAROL, MALLORY, Repo, approval, job_manifest, make_config

from reconciler.approvals import Effect, apply_decisions, collect, party_approvals
from reconciler.config import Config, DomainTrust
from reconciler.model import JobPhase, ObjectRef, Resource

JOB = ObjectRef("KusciaJob", "cross-domain", "job-psi")


def _cfg(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        alice=DomainTrust(emails=[ALICE[1]]),
        bob=DomainTrust(emails=[BOB[1]]),
        carol=DomainTrust(emails=[CAROL[1]]),
    )


def _phase(backend: Any) -> JobPhase:
    return JobPhase.parse(backend.get(JOB).status.get("phase"))


def _create_job(backend: Any, **kw: Any) -> None:
    backend.create(Resource.from_manifest(yaml.safe_load(job_manifest(**kw))))
    assert backend.run_until(lambda: _phase(backend) is JobPhase.AWAITING_APPROVAL, timeout=10)


def _sync(backend: Any, repo: Repo, head: str, cfg: Config) -> dict[str, Any]:
    """What the reconciler does on each sync: collect, apply, let the engine react."""
    outcomes = apply_decisions(backend, collect(str(repo.path), head, None, cfg))
    backend.run_until(lambda: not backend.engine.reconcile_once(), timeout=10)
    return {o.decision.path: o for o in outcomes}


def test_approvals_job_waits_until_the_last_party_approves(
    repo: Repo, tmp_path: Path, local_backend: Any
) -> None:
    cfg = _cfg(tmp_path)
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    _create_job(local_backend)

    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    out = _sync(local_backend, repo, head, cfg)
    assert out["approvals/bob/job-psi.yaml"].effect is Effect.APPLIED
    assert _phase(local_backend) is JobPhase.AWAITING_APPROVAL  # carol has not approved yet

    # a second sync with nothing new sends nothing again
    out = _sync(local_backend, repo, head, cfg)
    assert out["approvals/bob/job-psi.yaml"].effect is Effect.UNCHANGED

    head = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, CAROL)
    out = _sync(local_backend, repo, head, cfg)
    assert out["approvals/carol/job-psi.yaml"].effect is Effect.APPLIED
    job = local_backend.get(JOB)
    assert JobPhase.parse(job.status["phase"]) not in (JobPhase.AWAITING_APPROVAL, JobPhase.APPROVAL_REJECT)
    assert job.status["approveStatus"] == {
        "alice": "JobAccepted",
        "bob": "JobAccepted",
        "carol": "JobAccepted",
    }

    # job show / status files: who approved, when, which commit
    rows = {p.domain: p for p in party_approvals(job)}
    assert rows["alice"].initiator and rows["alice"].status == "JobAccepted" and not rows["alice"].commit
    assert rows["carol"].who == "Carol <carol@carol.example>" and rows["carol"].commit == head
    assert rows["carol"].effective and rows["carol"].path == "approvals/carol/job-psi.yaml"
    assert rows["bob"].describe().startswith("bob: approved by Bob <bob@bob.example> at 2023-11-14T")


def test_approvals_rejection_ends_the_job(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    _create_job(local_backend)
    head = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol", "Reject", "no")}, CAROL)
    out = _sync(local_backend, repo, head, _cfg(tmp_path))
    assert out["approvals/carol/job-psi.yaml"].effect is Effect.APPLIED
    job = local_backend.get(JOB)
    assert job.status["phase"] == "ApprovalReject"
    assert job.status["reason"] == "Party: carol approval reject."
    # a later approval by bob is too late and says so
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    out = _sync(local_backend, repo, head, _cfg(tmp_path))
    assert out["approvals/bob/job-psi.yaml"].effect is Effect.IGNORED
    assert "too late: job job-psi is already ApprovalReject" in out["approvals/bob/job-psi.yaml"].message


def test_approvals_forged_records_do_not_approve(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    _create_job(local_backend)
    head = repo.commit(
        {
            "approvals/bob/job-psi.yaml": approval("job-psi", "bob"),
            "approvals/carol/job-psi.yaml": approval("job-psi", "carol"),
        },
        MALLORY,
    )
    out = _sync(local_backend, repo, head, _cfg(tmp_path))
    assert {o.effect for o in out.values()} == {Effect.IGNORED}
    job = local_backend.get(JOB)
    assert _phase(local_backend) is JobPhase.AWAITING_APPROVAL
    assert "bob" not in job.status["approveStatus"]
    # the job itself says why nothing happened
    rows = {p.domain: p for p in party_approvals(job)}
    assert rows["bob"].status == "" and not rows["bob"].effective
    assert "mallory@evil.example" in rows["bob"].why_not
    assert "has no effect" in rows["bob"].describe()


def test_approvals_recorded_before_the_job_exists(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    cfg = _cfg(tmp_path)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    head = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, CAROL)
    out = _sync(local_backend, repo, head, cfg)
    assert {o.effect for o in out.values()} == {Effect.WAITING}
    assert "job job-psi is not in the repository at " in out["approvals/bob/job-psi.yaml"].message

    head = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    _create_job(local_backend)  # the sync that creates the job ...
    out = _sync(local_backend, repo, head, cfg)  # ... then applies the waiting approvals
    assert {o.effect for o in out.values()} == {Effect.APPLIED}
    assert _phase(local_backend) not in (JobPhase.AWAITING_APPROVAL, JobPhase.APPROVAL_REJECT)


def test_approvals_not_a_party_and_initiator(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    cfg = _cfg(tmp_path)
    cfg.approvals.domains["dave"] = DomainTrust(emails=["dave@dave.example"])
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    _create_job(local_backend)
    repo.commit({"approvals/alice/job-psi.yaml": approval("job-psi", "alice")}, ALICE)
    head = repo.commit(
        {"approvals/dave/job-psi.yaml": approval("job-psi", "dave")}, ("Dave", "dave@dave.example")
    )
    out = _sync(local_backend, repo, head, cfg)
    assert out["approvals/alice/job-psi.yaml"].message == (
        "alice is the initiator of job job-psi and approves it implicitly"
    )
    assert out["approvals/dave/job-psi.yaml"].message == (
        "dave is not a party of job job-psi (parties: alice, bob, carol)"
    )
    assert _phase(local_backend) is JobPhase.AWAITING_APPROVAL


def test_approvals_sync_step_with_a_git_source(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    from reconciler.approvals.step import sync_approvals
    from reconciler.source import DirectorySource, GitSource

    cfg = _cfg(tmp_path)
    _create_job(local_backend)
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    head = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, MALLORY)
    source = GitSource(str(repo.path), cache_dir=tmp_path / "cache")
    dry = sync_approvals(source.snapshot(head), local_backend, cfg, head, dry_run=True)
    assert dry.lines()[0] == "(dry run) approval Approve job-psi for bob: would apply"
    assert "bob" not in local_backend.get(JOB).status["approveStatus"]
    report = sync_approvals(source.snapshot(head), local_backend, cfg, head)
    assert report.lines()[0] == "approval Approve job-psi for bob: applied (bob approved job-psi)"
    assert report.lines()[1].startswith("approval Approve job-psi for carol: ignored (commit ")
    assert report.touched == {JOB} and not report.failed
    assert local_backend.get(JOB).status["approveStatus"]["bob"] == "JobAccepted"
    plain = sync_approvals(DirectorySource(str(tmp_path)).snapshot(), local_backend, cfg, "sha256:0")
    assert plain.error == "approval records are read only from a Git source"
