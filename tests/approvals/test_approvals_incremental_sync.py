"""``kgitops sync`` patched onto the plan base (no status write-back) applies and reports approvals exactly
as a full sync does: the records arriving in later commits, beside the jobs they approve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from approvals_support import ALICE, BOB, CAROL, MALLORY, Repo, approval, job_manifest
from click.testing import CliRunner

from reconciler.apply.reconcile import Reconciler
from reconciler.cli import main
from reconciler.plan.plan_base import base_path


def test_incremental_syncs_apply_approvals_as_full_syncs_do(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged: list[int] = []  # per sync of the kept state: refs judged again (-1: in full)
    sync_differences = Reconciler.sync_differences

    def counted(self: Reconciler, *args: Any, **kwargs: Any) -> Any:
        out = sync_differences(self, *args, **kwargs)
        judged.append(self.incremental_last)
        return out

    monkeypatch.setattr(Reconciler, "sync_differences", counted)

    def sync(state: str) -> tuple[int, str]:
        path = tmp_path / f"{state}.yaml"
        doc = {
            "engine": {"state_dir": str(tmp_path / state), "autostart": False},
            "approvals": {"domains": {"bob": {"emails": [BOB[1]]}, "carol": {"emails": [CAROL[1]]}}},
        }
        path.write_text(yaml.safe_dump(doc))
        args = ["sync", str(repo.path), "--git", "--config", str(path), "--no-status-commit"]
        result = CliRunner().invoke(main, args)
        assert isinstance(result.exception, SystemExit | None), result.output
        return result.exit_code, result.output

    def both() -> tuple[int, str]:
        base_path(tmp_path / "full").unlink(missing_ok=True)
        kept = sync("kept")
        assert kept == sync("full")
        del judged[-1]  # the full one's
        return kept

    repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE)
    both()
    assert base_path(tmp_path / "kept").is_file()
    repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", reason="inputs checked")}, BOB)
    assert "approval Approve job-psi for bob: applied" in both()[1]
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, MALLORY)
    assert "approval Approve job-psi for carol: ignored" in both()[1]
    repo.commit(
        {
            "jobs/job-two.yaml": job_manifest("job-two"),
            "approvals/bob/job-two.yaml": approval("job-two", "bob"),
        },
        ALICE,
    )
    assert "approval Approve job-two for bob: ignored" in both()[1]
    repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol", reason="ok")}, CAROL)
    assert "approval Approve job-psi for carol: applied" in both()[1]
    repo.commit(  # what a snapshot does not read under the approvals folder is not read either
        {
            "approvals/.hidden/job-two.yaml": approval("job-two", "carol"),
            "approvals/bob/.job-two.yaml": approval("job-two", "carol"),
            "approvals/bob/notes.txt": "not a record",
            "approvals/carol/job-two.yml": approval("job-two", "carol"),
        },
        CAROL,
    )
    assert "approval Approve job-two for carol:" in both()[1]
    assert judged[0] == -1 and min(judged[1:]) >= 0, judged  # every sync after the first was patched


def test_the_approvals_folder_is_listed_as_a_whole_snapshot_lists_it(repo: Repo) -> None:
    from reconciler.approvals.step import folder_snapshot
    from reconciler.source import GitSource

    head = repo.commit(
        {
            "jobs/job-psi.yaml": job_manifest(),
            "approvals/bob/job-psi.yaml": approval("job-psi", "bob"),
            "approvals/bob/deeper/job-two.yml": approval("job-two", "bob"),
            "approvals/.hidden/job-two.yaml": approval("job-two", "carol"),
            "approvals/bob/.job-two.yaml": approval("job-two", "carol"),
            "approvals/bob/notes.txt": "not a record",
        },
        BOB,
    )
    source = GitSource(str(repo.path))
    whole = {f.path: f.read() for f in source.snapshot(head).files if f.path.startswith("approvals/")}
    found = folder_snapshot(source, head, "approvals/")
    assert found is not None
    assert {f.path: f.read() for f in found.files} == whole
    assert sorted(whole) == ["approvals/bob/deeper/job-two.yml", "approvals/bob/job-psi.yaml"]
    assert folder_snapshot(source, head, "missing") == type(found)((), source)
    assert folder_snapshot(source, head, ".") is None  # the whole source: a whole snapshot
