"""GitHub pull_request_review payloads (in GitHub's documented webhook format) become approval records."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from approvals_support import ALICE, BOB, EVENT, Repo, job_manifest
from click.testing import CliRunner

from reconciler.approvals.github import GitHubEventError, parse_review_event, records_for_review
from reconciler.approvals.jobs import JobSummary
from reconciler.approvals.records import ApprovalRecord, Decision, parse_file
from reconciler.cli import main
from reconciler.config import ApprovalsConfig, DomainTrust

APPROVALS = ApprovalsConfig(
    domains={
        "bob": DomainTrust(emails=[BOB[1]], github_logins=["Bob-GH"]),
        "carol": DomainTrust(github_logins=["carol-gh", "bob-gh"]),
    }
)
JOBS = [JobSummary("job-psi", "cross-domain", "alice", ("alice", "bob", "carol"), "jobs/job-psi.yaml")]


def _event(**review: Any) -> dict[str, Any]:
    ev = copy.deepcopy(EVENT)
    ev["review"].update(review)
    return ev


def test_approvals_approved_review_becomes_approve_records() -> None:
    event = parse_review_event(EVENT)
    records, notes = records_for_review(event, JOBS, APPROVALS)
    assert notes == []
    # bob-gh speaks for bob and carol (logins compare case-insensitively)
    assert [(r.domain, r.job, r.decision, r.path) for r in records] == [
        ("bob", "job-psi", Decision.APPROVE, "approvals/bob/job-psi.yaml"),
        ("carol", "job-psi", Decision.APPROVE, "approvals/carol/job-psi.yaml"),
    ]
    assert records[0].reason == "approved by bob-gh in pull request #2"
    assert records[0].annotations["kgitops.io/github-review"].endswith("#pullrequestreview-237895671")


def test_approvals_changes_requested_becomes_reject() -> None:
    event = parse_review_event(_event(state="changes_requested", body="the PSI key column is wrong"))
    records, _ = records_for_review(event, JOBS, APPROVALS)
    assert {r.decision for r in records} == {Decision.REJECT}
    assert records[0].reason == "the PSI key column is wrong"


@pytest.mark.parametrize("state", ["commented", "dismissed"])
def test_approvals_comment_is_no_decision(state: str) -> None:
    records, notes = records_for_review(parse_review_event(_event(state=state)), JOBS, APPROVALS)
    assert records == [] and "no decision" in notes[0]


def test_approvals_unknown_reviewer_and_non_party() -> None:
    records, notes = records_for_review(
        parse_review_event(_event(user={"login": "stranger"})), JOBS, APPROVALS
    )
    assert records == [] and "github_logins" in notes[0]
    jobs = [JobSummary("job-two", "cross-domain", "alice", ("alice", "bob"), "j.yaml")]
    records, notes = records_for_review(parse_review_event(EVENT), jobs, APPROVALS)
    assert [r.domain for r in records] == ["bob"] and notes == ["carol is not a party of job job-two"]


def test_approvals_payload_errors_name_the_field() -> None:
    broken = copy.deepcopy(EVENT)
    del broken["pull_request"]["base"]
    with pytest.raises(GitHubEventError, match=r"`pull_request.base.sha` is missing"):
        parse_review_event(broken)
    with pytest.raises(GitHubEventError, match=r"`review.state` must be a str"):
        parse_review_event(_event(state=3))


def _pr_repo(repo: Repo) -> tuple[str, str]:
    base = repo.commit({"jobs/old.yaml": job_manifest("job-old")}, ALICE)
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE, branch="add-psi")
    head = repo.commit({"jobs/notes.yaml": "just: notes\n"}, ALICE, branch="add-psi")
    return base, head


def _config_file(tmp_path: Path) -> Path:
    cfg = tmp_path / "kgitops.yaml"
    cfg.write_text(
        yaml.safe_dump({"approvals": {"domains": {"bob": {"emails": [BOB[1]], "github_logins": ["bob-gh"]}}}})
    )
    return cfg


def test_approvals_from_github_event_command(repo: Repo, tmp_path: Path) -> None:
    base, head = _pr_repo(repo)
    ev = copy.deepcopy(EVENT)
    ev["pull_request"]["base"]["sha"], ev["pull_request"]["head"]["sha"] = base, head
    ev["review"]["commit_id"] = head
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(ev))
    args = ["approvals", "from-github-event", str(event_file), "--repo", str(repo.path),
            "--config", str(_config_file(tmp_path))]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote approvals/bob/job-psi.yaml: Approve job job-psi for bob (review by bob-gh)" in result.output
    written = repo.path / "approvals/bob/job-psi.yaml"
    [rec] = parse_file(written.read_text(), "approvals/bob/job-psi.yaml")
    assert isinstance(rec, ApprovalRecord) and rec.decision == Decision.APPROVE and rec.domain == "bob"
    # job-old was not part of the pull request, so no record for it
    assert not (repo.path / "approvals/bob/job-old.yaml").exists()


def test_approvals_from_github_event_rejects_bad_json(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text('{"action": "submitted",\n "review": }')
    result = CliRunner().invoke(main, ["approvals", "from-github-event", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2:12: not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_approvals_hostile_job_names_never_become_paths() -> None:
    jobs = [JobSummary("../../escape", "cross-domain", "alice", ("alice", "bob"), "jobs/evil.yaml")]
    records, notes = records_for_review(parse_review_event(EVENT), jobs, APPROVALS)
    assert records == []
    assert "jobs/evil.yaml: job '../../escape' has a name kgitops cannot write a record for" in notes
