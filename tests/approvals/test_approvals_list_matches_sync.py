"""``kgitops approvals list`` prints the very decisions ``kgitops sync`` applies (one decision function)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from approvals_support import ALICE, BOB, CAROL, MALLORY, Repo, approval, job_manifest
from click.testing import CliRunner

from reconciler.cli import main

DAVE = ("Dave", "dave@dave.example")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kgitops.yaml"
    emails = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE}
    doc = {
        "engine": {"state_dir": str(tmp_path / "state"), "autostart": False},
        "approvals": {"domains": {d: {"emails": [who[1]]} for d, who in emails.items()}},
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def _kgitops(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def _story(repo: Repo) -> str:
    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"approvals/alice/job-psi.yaml": approval("job-psi", "alice")}, ALICE)  # the initiator
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)  # counts
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, MALLORY)  # forged
    repo.commit({"approvals/dave/job-psi.yaml": approval("job-psi", "dave")}, DAVE)  # not a party
    repo.commit({"approvals/bob/job-later.yaml": approval("job-later", "bob")}, BOB)  # no such job yet
    stale = approval("job-psi", "carol", digest="sha256:" + "0" * 64, reason="an older spec")
    return repo.commit({"approvals/carol/old.yaml": stale}, CAROL)  # carol's, for another spec


def _verdicts(records: list[dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    return {r["path"]: (r["verdict"], r["whyNot"], r["waiting"]) for r in records}


def test_approvals_list_says_what_sync_does(repo: Repo, config: Path) -> None:
    _story(repo)
    text = _kgitops("approvals", "list", "--repo", str(repo.path), "--config", str(config))
    lines = text.splitlines()
    # a non-party's record is never OK, even when its committer is the domain's own
    [dave] = [line for line in lines if " for dave " in line]
    assert dave.startswith("IGNORED  Approve job-psi for dave by Dave"), text
    assert "why: dave is not a party of job job-psi (parties: alice, bob, carol)" in text
    assert "why: alice is the initiator of job job-psi and approves it implicitly" in text
    [ok] = [line for line in lines if line.startswith("OK ")]
    assert ok.startswith("OK       Approve job-psi for bob by Bob <bob@bob.example>")
    assert any(line.startswith("WAITING  Approve job-later for bob") for line in lines)

    listed = json.loads(
        _kgitops("approvals", "list", "-o", "json", "--repo", str(repo.path), "--config", str(config))
    )
    sync = ["sync", str(repo.path), "--git", "--config", str(config), "-o", "json"]
    # four records are ignored: sync is not clean (exit 1, docs/exit-codes.md), in a dry run too
    dry_doc, done_doc = json.loads(_kgitops(*sync, "--dry-run", code=1)), json.loads(_kgitops(*sync, code=1))
    assert dry_doc["problems"] == done_doc["problems"] == ["4 approval record(s) ignored"]
    dry, done = dry_doc["approvals"]["records"], done_doc["approvals"]["records"]
    assert _verdicts(listed) == _verdicts(dry) == _verdicts(done)
    assert {r["path"]: r["verdict"] for r in listed} == {
        "approvals/alice/job-psi.yaml": "IGNORED",
        "approvals/bob/job-later.yaml": "WAITING",
        "approvals/bob/job-psi.yaml": "OK",
        "approvals/carol/job-psi.yaml": "IGNORED",
        "approvals/carol/old.yaml": "IGNORED",
        "approvals/dave/job-psi.yaml": "IGNORED",
    }
    # and what sync did is exactly that: only bob's record reached the job
    effects = {r["path"]: r["effect"] for r in done}
    assert effects == {
        "approvals/alice/job-psi.yaml": "ignored",
        "approvals/bob/job-later.yaml": "waiting",
        "approvals/bob/job-psi.yaml": "applied",
        "approvals/carol/job-psi.yaml": "ignored",
        "approvals/carol/old.yaml": "ignored",
        "approvals/dave/job-psi.yaml": "ignored",
    }
    show = _kgitops("job", "show", "job-psi", "--config", str(config))
    assert "bob: approved by Bob <bob@bob.example>" in show
    assert "carol: waiting" in show


@pytest.mark.parametrize("subpath", ["team", "./team/", "team//"])
def test_list_and_sync_read_one_subpath_however_spelled(repo: Repo, tmp_path: Path, subpath: str) -> None:
    """`source.subpath: ./team/` is the folder `team` for `approvals list` as for sync (docs/gitops.md)."""
    path = tmp_path / f"kgitops-{len(subpath)}.yaml"
    doc = {
        "source": {"path": str(repo.path), "git": True, "subpath": subpath},
        "engine": {"state_dir": str(tmp_path / f"state-{len(subpath)}"), "autostart": False},
        "approvals": {"domains": {"bob": {"emails": [BOB[1]]}}},
    }
    path.write_text(yaml.safe_dump(doc))
    repo.commit({"team/job-psi.yaml": job_manifest()}, ALICE)
    repo.commit({"team/approvals/bob/job-psi.yaml": approval("job-psi", "bob")}, BOB)
    listed = json.loads(_kgitops("approvals", "list", "-o", "json", "--config", str(path)))
    assert {r["path"]: r["verdict"] for r in listed} == {"team/approvals/bob/job-psi.yaml": "OK"}
    done = json.loads(_kgitops("sync", "--config", str(path), "-o", "json"))["approvals"]["records"]
    assert {r["path"]: r["effect"] for r in done} == {"team/approvals/bob/job-psi.yaml": "applied"}
