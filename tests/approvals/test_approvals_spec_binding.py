"""An approval binds to the job spec it decided on (spec.jobSpecDigest): a changed job needs a new one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml
from approvals_support import ALICE, BOB, EVENT, Repo, approval, job_manifest, make_config, spec_digest
from click.testing import CliRunner, Result

from reconciler.approvals import Effect, apply_decisions, collect, parse_record
from reconciler.approvals.digest import job_digest
from reconciler.approvals.records import ApprovalRecord, RecordProblem
from reconciler.cli import main
from reconciler.config import Config, DomainTrust
from reconciler.model import JobPhase, ObjectRef, Resource
from reconciler.validate import Options, validate_file
from reconciler.validate.defaults import apply_defaults

JOB = ObjectRef("KusciaJob", "cross-domain", "job-psi")
RECORD = "approvals/bob/job-psi.yaml"


def _cfg(tmp_path: Path) -> Config:
    return make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]]), alice=DomainTrust(emails=[ALICE[1]]))


def _changed(image: str = "other-image") -> str:
    return job_manifest().replace("appImage: secretflow-image", f"appImage: {image}")


def test_approvals_digest_is_of_the_effective_spec() -> None:
    doc = yaml.safe_load(job_manifest())
    spec = doc["spec"]
    digest = job_digest("job-psi", spec)
    assert digest.startswith("sha256:") and len(digest) == 71
    # what the backend holds: CRD defaults filled in, an empty taskID generated as Kuscia's initiator does
    live = apply_defaults(Resource.from_manifest(doc)).spec
    assert live["tasks"][0]["tolerable"] is False and live != spec
    assert job_digest("job-psi", live) == digest
    bare = copy.deepcopy(spec)
    del bare["scheduleMode"], bare["maxParallelism"], bare["tasks"][0]["taskID"]
    generated = copy.deepcopy(bare)
    generated["tasks"][0]["taskID"] = "job-psi-0123456789ab"
    generated["tasks"][0]["dependencies"] = []
    assert job_digest("job-psi", bare) == job_digest("job-psi", generated)
    # anything that changes what runs changes the digest
    assert job_digest("job-psi", yaml.safe_load(_changed())["spec"]) != digest
    other_id = copy.deepcopy(spec)
    other_id["tasks"][0]["taskID"] = "job-psi-other"
    assert job_digest("job-psi", other_id) != digest
    parties = yaml.safe_load(job_manifest(parties=("alice", "bob", "carol", "dave")))["spec"]
    assert job_digest("job-psi", parties) != digest


def test_approvals_changed_job_needs_a_new_approval(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    head = repo.commit({RECORD: approval("job-psi", "bob")}, BOB)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.trusted and d.digest == spec_digest(job_manifest()) and d.job_path == "jobs/job-psi.yaml"
    # the initiator swaps the image after bob approved: bob's record no longer speaks for this job
    head = repo.commit({"jobs/job-psi.yaml": _changed()}, ALICE)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted
    old = spec_digest(job_manifest())
    assert f"the Approve is for another spec of job job-psi (jobSpecDigest {old})" in d.why_not
    assert f"jobs/job-psi.yaml now holds {spec_digest(_changed())}" in d.why_not
    assert "bob must decide again (kgitops approve job-psi --domain bob)" in d.why_not
    # bob approves the new spec
    new = approval("job-psi", "bob", reason="new image checked", digest=spec_digest(_changed()))
    head = repo.commit({RECORD: new}, BOB)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.trusted, d.why_not


def test_approvals_live_job_with_another_spec_is_not_approved(
    repo: Repo, tmp_path: Path, local_backend: Any
) -> None:
    # the live job is the old spec (sync holds the change back); Git holds the new one, which bob approved
    local_backend.create(Resource.from_manifest(yaml.safe_load(job_manifest())))
    assert local_backend.run_until(
        lambda: local_backend.get(JOB).status.get("phase") == JobPhase.AWAITING_APPROVAL, timeout=10
    )
    repo.commit({"jobs/job-psi.yaml": _changed()}, ALICE)
    head = repo.commit({RECORD: approval("job-psi", "bob", digest=spec_digest(_changed()))}, BOB)
    decisions = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert decisions[0].trusted
    [out] = apply_decisions(local_backend, decisions)
    assert out.effect is Effect.IGNORED
    assert f"the live job job-psi has another spec ({spec_digest(job_manifest())})" in out.message
    assert "bob" not in (local_backend.get(JOB).status.get("approveStatus") or {})


def test_approvals_record_without_a_digest_is_refused_everywhere(repo: Repo, tmp_path: Path) -> None:
    doc = yaml.safe_load(approval("job-psi", "bob"))
    del doc["spec"]["jobSpecDigest"]
    problem = parse_record(doc, RECORD, 1)
    assert isinstance(problem, RecordProblem)
    assert problem.message.startswith("spec.jobSpecDigest is missing: a decision names the job spec")
    assert "kgitops approvals digest job-psi" in problem.message
    result = validate_file(RECORD, yaml.safe_dump(doc).encode(), Options())
    assert any(f.rule == "SCHEMA001" and "jobSpecDigest" in f.message for f in result.findings if f.is_error)
    doc["spec"]["jobSpecDigest"] = "sha256:ABC"
    problem = parse_record(doc, RECORD, 1)
    assert isinstance(problem, RecordProblem) and "spec.jobSpecDigest must be sha256:" in problem.message
    result = validate_file(RECORD, yaml.safe_dump(doc).encode(), Options())
    assert [f for f in result.findings if f.is_error]
    # and the collector reports it as a broken record with its position
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    head = repo.commit({RECORD: yaml.safe_dump(doc)}, BOB)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.job is None and not d.trusted and d.why_not.startswith(f"{RECORD}:1: spec.jobSpecDigest must be")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str], Path], Result]:
    def invoke(args: list[str], cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        monkeypatch.delenv("KGITOPS_CONFIG", raising=False)
        return CliRunner().invoke(main, args)

    return invoke


def test_approvals_approve_records_the_spec_it_read(
    repo: Repo, tmp_path: Path, run: Callable[[list[str], Path], Result]
) -> None:
    main = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"jobs/job-psi.yaml": _changed()}, ALICE, branch="pr", parents=[main])
    cfg = repo.repo.config
    cfg["user.name"], cfg["user.email"] = BOB
    config = tmp_path / "kgitops.yaml"
    config.write_text(yaml.safe_dump({"approvals": {"domains": {"bob": {"emails": [BOB[1]]}}}}))
    printed = run(["approvals", "digest", "job-psi", "--config", str(config)], repo.path)
    assert printed.exit_code == 0 and printed.output.strip() == spec_digest(job_manifest())
    printed = run(["approvals", "digest", "job-psi", "--revision", "pr", "--config", str(config)], repo.path)
    assert printed.output.strip() == spec_digest(_changed())
    missing = run(["approvals", "digest", "job-nope", "--config", str(config)], repo.path)
    assert missing.exit_code == 1
    assert "no KusciaJob job-nope in namespace cross-domain at HEAD" in missing.output
    # approving the pull request's version of the job, on a branch from main
    args = ["approve", "job-psi", "--domain", "bob", "--job-at", "pr", "--config", str(config)]
    result = run(args, repo.path)
    assert result.exit_code == 0, result.output
    assert f"job spec {spec_digest(_changed())}" in result.output
    tip = repo.repo.references["refs/heads/approve/bob/job-psi"].peel(pygit2.Commit)
    rec = parse_record(yaml.safe_load(tip.tree[RECORD].data), RECORD)
    assert isinstance(rec, ApprovalRecord) and rec.job_digest == spec_digest(_changed())
    # at main's version it does not count, once the pull request is merged it does
    args = ["approvals", "list", "--revision", "approve/bob/job-psi", "--config", str(config)]
    listed = run(args, repo.path)
    assert listed.stdout.startswith("IGNORED  Approve job-psi for bob") and "decide again" in listed.output
    repo.merge("approve/bob/job-psi", ALICE, into="pr")
    listed = run(["approvals", "list", "--revision", "pr", "--config", str(config)], repo.path)
    assert listed.stdout.startswith("OK       Approve job-psi for bob by Bob"), listed.output


def test_approvals_github_review_binds_to_the_reviewed_commit(repo: Repo, tmp_path: Path) -> None:
    base = repo.commit({"README.md": "jobs\n"}, ALICE)
    reviewed = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE, branch="add-psi", parents=[base])
    head = repo.commit({"jobs/job-psi.yaml": _changed()}, ALICE, branch="add-psi")  # pushed after the review
    event = copy.deepcopy(EVENT)
    event["pull_request"]["base"]["sha"], event["pull_request"]["head"]["sha"] = base, head
    event["review"]["commit_id"] = reviewed
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    config = tmp_path / "kgitops.yaml"
    config.write_text(yaml.safe_dump({"approvals": {"domains": {"bob": {"github_logins": ["bob-gh"]}}}}))
    args = ["approvals", "from-github-event", str(path), "--repo", str(repo.path), "--config", str(config),
            "--dry-run"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"jobSpecDigest: {spec_digest(job_manifest())}" in result.output
    assert spec_digest(_changed()) not in result.output
