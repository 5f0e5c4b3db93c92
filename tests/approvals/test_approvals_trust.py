"""Who made a record decides whether it counts: identities, forgeries, merges, duplicates, broken records."""

from __future__ import annotations

from pathlib import Path

import pytest
from approvals_support import (
    ALICE,
    BOB,
    CAROL,
    MAINTAINER,
    MALLORY,
    Repo,
    approval,
    job_manifest,
    make_config,
)

from reconciler.approvals import Decision, collect
from reconciler.approvals.history import HistoryError
from reconciler.config import DomainTrust


def _cfg(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_config(
        tmp_path,
        alice=DomainTrust(emails=[ALICE[1]]),
        bob=DomainTrust(emails=[BOB[1]]),
        carol=DomainTrust(emails=[CAROL[1].upper()]),  # e-mails compare case-insensitively
    )


def test_approvals_commit_by_allowed_identity_counts(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", reason="ok by us")}, BOB)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.trusted and d.why_not == ""
    assert (d.job.name if d.job else "", d.domain, d.decision) == ("job-psi", "bob", Decision.APPROVE)
    assert d.who == "Bob <bob@bob.example>" and d.commit == head and d.reason == "ok by us"
    assert d.path == "approvals/bob/job-psi.yaml" and d.line == 1 and d.when.startswith("2023-11-14T")


def test_approvals_right_file_wrong_author_does_not_approve(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, MALLORY)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted
    assert (
        "Mallory <mallory@evil.example>" in d.why_not and "not an allowed identity of domain bob" in d.why_not
    )
    assert "bob@bob.example" in d.why_not


def test_approvals_merge_keeps_the_approvers_commit(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    bobs = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB, branch="approve/bob")
    repo.commit({"README": "unrelated\n"}, ALICE)  # main moved on, so a real merge commit is needed
    merge = repo.merge("approve/bob", MAINTAINER)
    [d] = collect(str(repo.path), merge, None, _cfg(tmp_path))
    assert d.trusted and d.commit == bobs and d.who.startswith("Bob ")


def test_approvals_edit_by_someone_else_takes_the_record_over(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", "Reject")}, BOB)
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", "Approve")}, MALLORY)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.decision == Decision.APPROVE and not d.trusted and "Mallory" in d.why_not


def test_approvals_delete_and_readd_by_someone_else_is_theirs(repo: Repo, tmp_path: Path) -> None:
    text = approval("job-psi", "bob")
    repo.commit({"approvals/bob/job-psi.yaml": text}, BOB)
    repo.commit({"approvals/bob/job-psi.yaml": None}, MALLORY)
    head = repo.commit({"approvals/bob/job-psi.yaml": text}, MALLORY)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted and "Mallory" in d.why_not


def test_approvals_record_outside_its_domain_folder_has_no_effect(repo: Repo, tmp_path: Path) -> None:
    # alice's team may write approvals/alice/, but a record there cannot speak for bob, whoever commits it
    head = repo.commit({"approvals/alice/for-bob.yaml": approval("job-psi", "bob")}, BOB)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted and "must live in approvals/bob/" in d.why_not


def test_approvals_duplicate_job_and_domain_the_later_counts(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    head = repo.commit({"approvals/bob/again.yaml": approval("job-psi", "bob", "Reject")}, BOB)
    by_path = {d.path: d for d in collect(str(repo.path), head, None, _cfg(tmp_path))}
    assert by_path["approvals/bob/again.yaml"].trusted
    old = by_path["approvals/bob/job-psi.yaml"]
    assert not old.trusted and "superseded by the later record approvals/bob/again.yaml" in old.why_not
    assert "for job job-psi and domain bob" in old.why_not


def test_approvals_forged_record_cannot_push_out_the_real_one(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"approvals/bob/aaa.yaml": approval("job-psi", "bob", "Reject")}, MALLORY)
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    by_path = {d.path: d for d in collect(str(repo.path), head, None, _cfg(tmp_path))}
    assert by_path["approvals/bob/job-psi.yaml"].trusted
    assert "Mallory" in by_path["approvals/bob/aaa.yaml"].why_not


def test_approvals_broken_records_reported_with_position(repo: Repo, tmp_path: Path) -> None:
    bad = approval("job-psi", "bob").replace("decision: Approve", "decision: Maybe")
    head = repo.commit(
        {
            "approvals/bob/bad.yaml": "# leading comment\n---\n" + bad,
            "approvals/bob/notyaml.yaml": "spec: [unclosed\n",
            "approvals/bob/other-kind.yaml": job_manifest(),  # not ours: skipped silently
        },
        BOB,
    )
    ds = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert [d.path for d in ds] == ["approvals/bob/bad.yaml", "approvals/bob/notyaml.yaml"]
    assert all(not d.trusted and d.job is None for d in ds)
    assert ds[0].why_not.startswith("approvals/bob/bad.yaml:3: spec.decision must be Approve or Reject")
    assert ds[1].why_not.startswith("approvals/bob/notyaml.yaml:2: not valid YAML")


def test_approvals_domain_without_trust_settings(repo: Repo, tmp_path: Path) -> None:
    head = repo.commit(
        {"approvals/dave/job-psi.yaml": approval("job-psi", "dave")}, ("Dave", "dave@d.example")
    )
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted and "add approvals.domains.dave" in d.why_not


def test_approvals_subpath_and_records_from_elsewhere(repo: Repo, tmp_path: Path) -> None:
    head = repo.commit({"deploy/approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, CAROL)
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path), subpath="deploy")
    assert d.trusted and d.path == "deploy/approvals/carol/job-psi.yaml"
    assert collect(str(repo.path), head, None, _cfg(tmp_path)) == []


def test_approvals_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(HistoryError, match="not in a Git repository"):
        collect(str(tmp_path / "plain"), "HEAD", None, _cfg(tmp_path))


def test_approvals_records_handed_over_by_the_source(repo: Repo, tmp_path: Path) -> None:
    from reconciler.approvals.history import records_from_snapshot
    from reconciler.source import GitSource

    text = approval("job-psi", "carol")
    head = repo.commit({"deploy/approvals/carol/job-psi.yaml": text}, CAROL)
    snapshot = GitSource(str(repo.path), subpath="deploy").snapshot(head)
    assert snapshot.history is not None and snapshot.history.subpath == "deploy"
    records = records_from_snapshot(snapshot.files, "approvals", snapshot.history.subpath)
    [d] = collect(snapshot.history.repository, head, records, _cfg(tmp_path), subpath="deploy")
    assert d.trusted and d.path == "deploy/approvals/carol/job-psi.yaml" and d.line == 1
