"""``kgitops approve`` commits a record on a new branch; ``kgitops approvals list`` says who counts, why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
import yaml
from approvals_support import ALICE, BOB, MALLORY, Repo, approval, job_manifest
from click.testing import CliRunner, Result

from reconciler.approvals import ApprovalRecord, Decision, collect, parse_file
from reconciler.cli import main
from reconciler.config import load_config

Runner = Callable[[list[str], Path], Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str], Path], Result]:
    """Run ``kgitops ARGS`` in a directory, as a user would from a shell there."""

    def invoke(args: list[str], cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        monkeypatch.delenv("KGITOPS_CONFIG", raising=False)
        return CliRunner().invoke(main, args)

    return invoke


def _config(tmp_path: Path, **bob: object) -> Path:
    path = tmp_path / "kgitops.yaml"
    path.write_text(yaml.safe_dump({"approvals": {"domains": {"bob": {"emails": [BOB[1]], **bob}}}}))
    return path


def _bob_repo(repo: Repo) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    cfg = repo.repo.config
    cfg["user.name"], cfg["user.email"] = BOB


def test_approvals_approve_commits_on_a_new_branch(repo: Repo, tmp_path: Path, run: Runner) -> None:
    _bob_repo(repo)
    (repo.path / "wip.txt").write_text("bob's uncommitted work\n")
    config = _config(tmp_path)
    result = run(
        ["approve", "job-psi", "--domain", "bob", "--reason", "checked the inputs", "--config", str(config)],
        repo.path,
    )
    assert result.exit_code == 0, result.output
    assert "committed the approval of job job-psi for bob as approvals/bob/job-psi.yaml" in result.output
    assert (
        "on branch approve/bob/job-psi" in result.output
        and "git push origin approve/bob/job-psi" in result.output
    )
    # HEAD, the index and the working tree are untouched; the branch holds exactly one new commit
    assert repo.repo.head.shorthand == "main" and (repo.path / "wip.txt").exists()
    assert not (repo.path / "approvals").exists()
    tip = repo.repo.references["refs/heads/approve/bob/job-psi"].peel(pygit2.Commit)
    assert tip.parents[0].id == repo.repo.head.target
    assert tip.committer.email == BOB[1] and tip.message.startswith("Approve job job-psi for bob")
    [rec] = parse_file(tip.tree["approvals/bob/job-psi.yaml"].data.decode(), "approvals/bob/job-psi.yaml")
    assert isinstance(rec, ApprovalRecord)
    assert (rec.job, rec.domain, rec.decision, rec.reason) == (
        "job-psi",
        "bob",
        Decision.APPROVE,
        "checked the inputs",
    )
    # and once merged, it counts
    [d] = collect(str(repo.path), "approve/bob/job-psi", None, load_config(config))
    assert d.trusted


def test_approvals_approve_reject_and_existing_branch(repo: Repo, tmp_path: Path, run: Runner) -> None:
    _bob_repo(repo)
    args = ["approve", "job-psi", "--domain", "bob", "--reject", "--reason", "wrong columns"]
    result = run(args, repo.path)
    assert result.exit_code == 0 and "committed the rejection" in result.output
    tip = repo.repo.references["refs/heads/approve/bob/job-psi"].peel(pygit2.Commit)
    assert "decision: Reject" in tip.tree["approvals/bob/job-psi.yaml"].data.decode()
    again = run(args, repo.path)
    assert again.exit_code == 1
    assert "branch approve/bob/job-psi already exists; pass --branch NAME" in again.output


def test_approvals_approve_notes_and_errors(repo: Repo, tmp_path: Path, run: Runner) -> None:
    _bob_repo(repo)
    # no job, no spec to decide on: say where to find it, or take an explicit digest
    result = run(["approve", "job-later", "--domain", "bob"], repo.path)
    assert result.exit_code == 1
    assert "job job-later (namespace cross-domain) is not at HEAD, so there is no spec to" in (
        result.output
    )
    result = run(["approve", "job-later", "--domain", "bob", "--digest", "sha256:" + "ab" * 32], repo.path)
    assert result.exit_code == 0, result.output
    assert (
        "note: job job-later is not in the repository yet; the record waits until it arrives" in result.output
    )
    args = ["approve", "job-later", "--domain", "bob", "--digest", "md5:x", "--branch", "b2"]
    result = run(args, repo.path)
    assert result.exit_code == 1 and "spec.jobSpecDigest must be sha256:" in result.output
    result = run(["approve", "job-psi", "--domain", "dave"], repo.path)
    assert "note: dave is not a party of job job-psi (parties: alice, bob, carol)" in result.output
    result = run(["approve", "Job_PSI", "--domain", "bob"], repo.path)
    assert result.exit_code == 1 and "spec.job must be the name of a KusciaJob" in result.output
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run(["approve", "job-psi", "--domain", "bob"], plain)
    assert result.exit_code == 1 and "is not in a Git repository" in result.output


def test_approvals_approve_signed_with_ssh(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path], run: Runner
) -> None:
    _bob_repo(repo)
    pub = Path(f"{ssh_keys['bob']}.pub")
    config = _config(tmp_path, ssh_keys=[str(pub)], require_signature=True)
    args = ["approve", "job-psi", "--domain", "bob", "--sign", "--signing-format", "ssh",
            "--signing-key", str(ssh_keys["bob"])]  # fmt: skip
    result = run(args, repo.path)
    assert result.exit_code == 0, result.output
    assert ", signed; job spec sha256:" in result.output
    [d] = collect(str(repo.path), "approve/bob/job-psi", None, load_config(config))
    assert d.trusted and d.signed_by.startswith("SHA256:")


def test_approvals_list_shows_verdicts(repo: Repo, tmp_path: Path, run: Runner) -> None:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    repo.commit({"approvals/bob/job-two.yaml": approval("job-two", "bob")}, MALLORY)
    config = _config(tmp_path)
    result = run(["approvals", "list", "--config", str(config)], repo.path)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"reading: approval records in approvals/ of {repo.path.resolve()} at HEAD\n"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK       Approve job-psi for bob by Bob <bob@bob.example>")
    assert lines[1].startswith("IGNORED  Approve job-two for bob by Mallory <mallory@evil.example>")
    assert "not an allowed identity of domain bob" in lines[2]
    data = json.loads(run(["approvals", "list", "-o", "json", "--config", str(config)], repo.path).stdout)
    assert [d["trusted"] for d in data] == [True, False]


def test_approvals_config_errors_are_clear(tmp_path: Path, run: Runner) -> None:
    bad = tmp_path / "kgitops.yaml"
    bad.write_text("approvals:\n  domains:\n    bob:\n      emial: [bob@bob.example]\n")
    result = run(["approvals", "list", "--config", str(bad)], tmp_path)
    assert result.exit_code == 2  # a config problem is a usage error
    expected = f"{bad}:4:7: unknown setting `approvals.domains.bob.emial`; did you mean `emails`?"
    assert expected in result.output


def test_approvals_approve_over_a_forged_identical_record(repo: Repo, tmp_path: Path, run: Runner) -> None:
    _bob_repo(repo)
    # mallory committed exactly the bytes bob's approval would have: bob's commit must write new content
    forged = run(["approve", "job-psi", "--domain", "bob", "--branch", "scratch"], repo.path)
    assert forged.exit_code == 0
    tip = repo.repo.references["refs/heads/scratch"].peel(pygit2.Commit)
    repo.commit({"approvals/bob/job-psi.yaml": tip.tree["approvals/bob/job-psi.yaml"].data.decode()}, MALLORY)
    same = run(["approve", "job-psi", "--domain", "bob"], repo.path)
    assert same.exit_code == 1 and "pass a --reason so your commit differs" in same.output
    fixed = run(["approve", "job-psi", "--domain", "bob", "--reason", "really me"], repo.path)
    assert fixed.exit_code == 0
    [d] = collect(str(repo.path), "approve/bob/job-psi", None, load_config(_config(tmp_path)))
    assert d.trusted and d.who.startswith("Bob ")
