"""Approvals are a way in too: an Approve lets a job run, so the job must pass admission as it is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from approvals_support import BOB, Repo, approval, job_manifest, make_config, spec_digest

from reconciler.approvals import Effect, apply_decisions, collect
from reconciler.config import DomainTrust
from reconciler.model import ObjectRef, Resource

JOB = ObjectRef("KusciaJob", "cross-domain", "job-psi")


def test_an_approval_from_git_is_refused_for_a_job_that_fails_admission(
    repo: Repo, tmp_path: Path, local_backend: Any
) -> None:
    cfg = make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]]))
    doc = yaml.safe_load(job_manifest(parties=("alice", "bob")))
    doc["spec"]["maxParallelism"] = 99999999999  # out of range: stored by another writer, past admission
    legacy = Resource.from_manifest(doc)
    legacy.status = {"phase": "AwaitingApproval"}
    local_backend.store.create(legacy)
    manifest = yaml.safe_dump(doc)  # the same job in Git, so the record binds to what is live
    record = approval("job-psi", "bob", digest=spec_digest(manifest))
    head = repo.commit({"jobs/job-psi.yaml": manifest, "approvals/bob/job-psi.yaml": record}, BOB)
    (out,) = apply_decisions(local_backend, collect(str(repo.path), head, None, cfg))
    assert out.effect is Effect.FAILED
    assert "SCHEMA004" in out.message and "spec.maxParallelism" in out.message
    assert local_backend.get(JOB).status.get("approveStatus") in (None, {})

    reject = approval("job-psi", "bob", "Reject", digest=spec_digest(manifest))
    head = repo.commit({"approvals/bob/job-psi.yaml": reject}, BOB)
    outcomes = apply_decisions(local_backend, collect(str(repo.path), head, None, cfg))
    assert [o.effect for o in outcomes] == [Effect.APPLIED]  # a rejection is always recorded
    assert local_backend.get(JOB).status["approveStatus"] == {"bob": "JobRejected"}


def test_an_approval_record_passes_validates_schema_checks() -> None:
    from reconciler.approvals import RecordProblem, parse_record

    doc = yaml.safe_load(approval("job-psi", "bob"))
    assert not isinstance(parse_record(doc, "approvals/bob/job-psi.yaml"), RecordProblem)
    typo = {**doc, "metdata": {}}  # validate reports it; the record must not count either
    problem = parse_record(typo, "approvals/bob/job-psi.yaml", 3)
    assert isinstance(problem, RecordProblem)
    assert "SCHEMA008" in problem.message and "did you mean `metadata`" in problem.message
    escape = {**doc, "metadata": {"name": "../job-psi-bob"}}
    problem = parse_record(escape, "approvals/bob/job-psi.yaml", 3)
    assert isinstance(problem, RecordProblem) and "metadata.name" in problem.message
