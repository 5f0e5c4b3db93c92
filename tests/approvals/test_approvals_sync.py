"""End to end: ``kgitops sync`` of a Git source applies approvals; status files and ``job show`` say who."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from approvals_support import ALICE, BOB, CAROL, MALLORY, Repo, approval, job_manifest
from click.testing import CliRunner

from reconciler.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kgitops.yaml"
    doc = {
        "engine": {"state_dir": str(tmp_path / "state"), "autostart": False},
        "approvals": {"domains": {"bob": {"emails": [BOB[1]]}, "carol": {"emails": [CAROL[1]]}}},
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def _kgitops(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def test_approvals_sync_status_and_job_show(repo: Repo, tmp_path: Path, config: Path) -> None:
    status = tmp_path / "status"
    sync = ["sync", str(repo.path), "--git", "--config", str(config), "--status-dir", str(status)]
    # the approvals arrive in the same commit range as the job: bob's is real, carol's is forged
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", reason="inputs checked")}, BOB)
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, MALLORY)
    out = _kgitops(*sync)
    assert "approval Approve job-psi for bob: applied (bob approved job-psi)" in out
    assert "approval Approve job-psi for carol: ignored (commit " in out and "mallory@evil.example" in out

    show = _kgitops("job", "show", "job-psi", "--config", str(config))
    assert "Approvals in Git:" in show
    assert "bob: approved by Bob <bob@bob.example> at 2023-11-14T" in show
    assert "carol: waiting; the Approve in approvals/carol/job-psi.yaml (commit " in show
    assert "by Mallory <mallory@evil.example>) has no effect: commit " in show
    assert "approvals.kgitops.io" not in show.split("Parties:")[0]  # no JSON in the Annotations line

    doc = yaml.safe_load((status / "cross-domain/KusciaJob/job-psi.yaml").read_text())
    parties = {p["domain"]: p for p in doc["live"]["approvals"]}
    assert parties["bob"]["approveStatus"] == "JobAccepted" and parties["bob"]["effective"] is True
    assert parties["bob"]["who"] == "Bob <bob@bob.example>" and len(parties["bob"]["commit"]) == 40
    assert parties["carol"]["effective"] is False and "not an allowed identity" in parties["carol"]["whyNot"]

    # carol approves for real (new content: identical bytes would leave the file Mallory's)
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol", reason="ok")}, CAROL)
    out = _kgitops(*sync)
    assert "approval Approve job-psi for carol: applied (carol approved job-psi)" in out
    doc = yaml.safe_load((status / "cross-domain/KusciaJob/job-psi.yaml").read_text())
    assert {p["domain"]: p["approveStatus"] for p in doc["live"]["approvals"]} == {
        "bob": "JobAccepted",
        "carol": "JobAccepted",
    }


def test_an_ignored_record_leaves_sync_not_clean_and_says_why(repo: Repo, config: Path) -> None:
    """docs/exit-codes.md: a record that does not count (here: committed by an identity carol does not list)
    is a Git state the backend does not follow, so sync exits 1, in a dry run too, naming the record and
    why; a record that counts (applied, or already carried) is clean."""
    sync = ["sync", str(repo.path), "--git", "--config", str(config), "--no-status-commit"]
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    first = CliRunner().invoke(main, sync)
    assert first.exit_code == 0, first.output
    assert "approval Approve job-psi for bob: applied" in first.output
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, MALLORY)
    for args in (sync + ["--dry-run"], sync, sync):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 1, done.output
        assert "job-psi for carol: ignored" in done.output and "mallory@evil.example" in done.output
        assert "in sync: 1 approval record(s) ignored" in done.output
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol", reason="ok")}, CAROL)
    fixed = CliRunner().invoke(main, sync)
    assert fixed.exit_code == 0, fixed.output
    assert "approval Approve job-psi for carol: applied" in fixed.output
    again = CliRunner().invoke(main, sync)
    assert again.exit_code == 0 and "not in sync" not in again.output, again.output
