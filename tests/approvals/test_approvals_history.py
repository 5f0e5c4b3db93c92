"""History, not clocks or file names, decides: which record of a party is the latest, and who made a record's
content when merges bring it back (real repositories, some made with the git command)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

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

from reconciler.approvals import Decision, Effect, apply_decisions, collect
from reconciler.config import Config, DomainTrust
from reconciler.model import JobPhase, ObjectRef, Resource

JOB = ObjectRef("KusciaJob", "cross-domain", "job-psi")
SAME_SECOND = 1_800_000_000


def _cfg(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        alice=DomainTrust(emails=[ALICE[1]]),
        bob=DomainTrust(emails=[BOB[1]]),
        carol=DomainTrust(emails=[CAROL[1]]),
    )


def _by_path(repo: Repo, head: str, tmp_path: Path) -> dict[str, Any]:
    return {d.path: d for d in collect(str(repo.path), head, None, _cfg(tmp_path))}


# -- which record of a party counts: the latest by ancestry --------------------------------------------------
@pytest.mark.parametrize(("first", "second"), [("aaa", "zzz"), ("zzz", "aaa")])
def test_approvals_later_reject_in_the_same_second_wins_whatever_the_paths(
    repo: Repo, tmp_path: Path, first: str, second: str
) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({f"approvals/bob/{first}.yaml": approval("job-psi", "bob")}, BOB, when=SAME_SECOND)
    head = repo.commit(
        {f"approvals/bob/{second}.yaml": approval("job-psi", "bob", "Reject")}, BOB, when=SAME_SECOND
    )
    ds = _by_path(repo, head, tmp_path)
    later, earlier = ds[f"approvals/bob/{second}.yaml"], ds[f"approvals/bob/{first}.yaml"]
    assert later.trusted and later.decision is Decision.REJECT
    assert not earlier.trusted
    assert f"superseded by the later record approvals/bob/{second}.yaml" in earlier.why_not


def test_approvals_later_by_history_wins_even_with_an_older_clock(repo: Repo, tmp_path: Path) -> None:
    # bob changes his mind: the Approve is committed after the Reject, though its clock says years earlier
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/b.yaml": approval("job-psi", "bob", "Reject")}, BOB, when=SAME_SECOND)
    head = repo.commit({"approvals/bob/a.yaml": approval("job-psi", "bob")}, BOB, when=SAME_SECOND - 10**8)
    ds = _by_path(repo, head, tmp_path)
    assert ds["approvals/bob/a.yaml"].trusted and ds["approvals/bob/a.yaml"].decision is Decision.APPROVE
    assert not ds["approvals/bob/b.yaml"].trusted


def test_approvals_parallel_branches_that_disagree_reject(repo: Repo, tmp_path: Path) -> None:
    base = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    # two of bob's people decide on parallel branches; neither saw the other's decision
    repo.commit({"approvals/bob/aaa.yaml": approval("job-psi", "bob")}, BOB, branch="yes", parents=[base],
                when=SAME_SECOND + 5)  # fmt: skip
    repo.commit({"approvals/bob/zzz.yaml": approval("job-psi", "bob", "Reject")}, BOB, branch="no",
                parents=[base], when=SAME_SECOND)  # fmt: skip
    repo.merge("yes", MAINTAINER)
    head = repo.merge("no", MAINTAINER)
    ds = _by_path(repo, head, tmp_path)
    assert ds["approvals/bob/zzz.yaml"].trusted and ds["approvals/bob/zzz.yaml"].decision is Decision.REJECT
    assert not ds["approvals/bob/aaa.yaml"].trusted
    assert "made on a parallel branch or in the same commit" in ds["approvals/bob/aaa.yaml"].why_not
    assert "the Reject counts" in ds["approvals/bob/aaa.yaml"].why_not


def test_approvals_contradictory_records_in_one_commit_reject(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    both = approval("job-psi", "bob") + "---\n" + approval("job-psi", "bob", "Reject")
    head = repo.commit({"approvals/bob/job-psi.yaml": both}, BOB)
    ds = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert [(d.decision, d.trusted) for d in ds] == [(Decision.APPROVE, False), (Decision.REJECT, True)]


def test_approvals_later_reject_ends_the_job(repo: Repo, tmp_path: Path, local_backend: Any) -> None:
    import yaml

    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    local_backend.create(Resource.from_manifest(yaml.safe_load(job_manifest())))
    repo.commit({"approvals/bob/aaa.yaml": approval("job-psi", "bob")}, BOB, when=SAME_SECOND)
    reject = approval("job-psi", "bob", "Reject")
    head = repo.commit({"approvals/bob/zzz.yaml": reject}, BOB, when=SAME_SECOND)
    assert local_backend.run_until(
        lambda: local_backend.get(JOB).status.get("phase") == JobPhase.AWAITING_APPROVAL, timeout=10
    )
    decisions = collect(str(repo.path), head, None, _cfg(tmp_path))
    outcomes = {o.decision.path: o for o in apply_decisions(local_backend, decisions)}
    assert outcomes["approvals/bob/zzz.yaml"].effect is Effect.APPLIED
    assert outcomes["approvals/bob/aaa.yaml"].effect is Effect.IGNORED
    assert local_backend.get(JOB).status["approveStatus"]["bob"] == "JobRejected"


# -- merges never credit content to someone who did not (re)write it ---------------------------------------
def _git(cwd: Path, *args: str, who: tuple[str, str] = MALLORY) -> str:
    env = ["-c", f"user.name={who[0]}", "-c", f"user.email={who[1]}", "-c", "commit.gpgsign=false"]
    out = subprocess.run(["git", "-C", str(cwd), *env, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="the git command is not installed")


@needs_git
def test_approvals_merge_cannot_bring_back_a_deleted_approve(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    bobs = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    repo.repo.references.create("refs/heads/stale", repo.repo.references["refs/heads/main"].target)
    repo.commit({"approvals/bob/job-psi.yaml": None}, BOB, message="bob withdraws his approval")
    # mallory merges the stale branch with `git merge -s ours`: an unsigned two-parent merge whose tree still
    # holds bob's old Approve, byte for byte
    _git(repo.path, "checkout", "-q", "stale")
    _git(repo.path, "merge", "-q", "-s", "ours", "-m", "merge main", "main")
    head = _git(repo.path, "rev-parse", "HEAD")
    assert len(repo.repo[head].parents) == 2
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert not d.trusted and d.commit == head and d.commit != bobs
    assert "Mallory <mallory@evil.example>" in d.why_not
    assert "not an allowed identity of domain bob" in d.why_not


@needs_git
def test_approvals_merge_cannot_bring_back_an_approve_that_was_rejected(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    repo.repo.references.create("refs/heads/stale", repo.repo.references["refs/heads/main"].target)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", "Reject", "wrong inputs")}, BOB)
    repo.commit({"notes.txt": "stale work\n"}, MALLORY, branch="stale")
    # an honest merge of the stale branch keeps main's Reject (the stale side never touched the record) ...
    _git(repo.path, "checkout", "-q", "main")
    _git(repo.path, "merge", "-q", "-m", "merge stale", "stale")
    clean = _git(repo.path, "rev-parse", "HEAD")
    [d] = collect(str(repo.path), clean, None, _cfg(tmp_path))
    assert d.trusted and d.decision is Decision.REJECT
    # ... while `-s ours` from the stale side brings the Approve back: credited to that merge, not to bob
    _git(repo.path, "checkout", "-q", "stale")
    _git(repo.path, "merge", "-q", "-s", "ours", "-m", "merge main", "main")
    head = _git(repo.path, "rev-parse", "HEAD")
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.decision is Decision.APPROVE and not d.trusted and d.commit == head


def test_approvals_hand_made_merge_with_either_parent_order(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    text = approval("job-psi", "bob")
    stale = repo.commit({"approvals/bob/job-psi.yaml": text}, BOB)
    main = repo.commit({"approvals/bob/job-psi.yaml": None}, BOB)
    for parents in ([main, stale], [stale, main]):
        head = repo.commit({"approvals/bob/job-psi.yaml": text}, MAINTAINER, parents=parents, branch="x")
        [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
        assert d.commit == head and not d.trusted, parents


def test_approvals_honest_merges_keep_the_approvers_commit(repo: Repo, tmp_path: Path) -> None:
    base = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    bobs = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB, branch="approve/bob",
                       parents=[base])  # fmt: skip
    carols = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, CAROL,
                         branch="approve/carol", parents=[base])  # fmt: skip
    repo.commit({"README": "unrelated\n"}, ALICE)
    repo.merge("approve/bob", MAINTAINER)
    head = repo.merge("approve/carol", MAINTAINER)
    # and main merged into a branch that already had the record, then back (a criss-cross) changes nothing
    repo.commit({"more.txt": "x\n"}, ALICE, branch="approve/carol")
    head = repo.merge("approve/carol", MAINTAINER)
    ds = {d.domain: d for d in collect(str(repo.path), head, None, _cfg(tmp_path))}
    assert ds["bob"].trusted and ds["bob"].commit == bobs
    assert ds["carol"].trusted and ds["carol"].commit == carols


def test_approvals_merge_made_by_the_party_itself_counts(repo: Repo, tmp_path: Path) -> None:
    # bob resolves the merge himself, taking his Approve back: the merge is his decision and is judged as his
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    text = approval("job-psi", "bob")
    stale = repo.commit({"approvals/bob/job-psi.yaml": text}, BOB)
    main = repo.commit({"approvals/bob/job-psi.yaml": None}, MALLORY)
    head = repo.commit({"approvals/bob/job-psi.yaml": text}, BOB, parents=[main, stale])
    [d] = collect(str(repo.path), head, None, _cfg(tmp_path))
    assert d.trusted and d.commit == head
