"""The `kgitops diff | sync | status` commands as a user runs them (real processes, real engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .gitops_support import Repo, appimage_doc, dump, job_doc, write, write_config


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory source with an AppImage and a two-task job, and a config for the embedded engine."""
    write(tmp_path / "repo", "apps/noop.yaml", appimage_doc())
    write(tmp_path / "repo", "jobs/job-a.yaml", job_doc("job-a", ("psi", "train")))
    write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    return tmp_path


def test_diff_exit_codes_and_formats(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    first = kgitops("diff", project / "repo", "--config", cfg)
    assert first.returncode == 1, first.stderr
    assert "+ create    KusciaJob/cross-domain/job-a  (jobs/job-a.yaml)" in first.stdout
    doc = json.loads(kgitops("diff", project / "repo", "--config", cfg, "-o", "json").stdout)
    assert doc["hasChanges"] and doc["counts"]["create"] == 2
    md = kgitops("diff", project / "repo", "--config", cfg, "-o", "markdown").stdout
    assert "```mermaid" in md and "n0 --> n1" in md
    assert kgitops("sync", project / "repo", "--config", cfg).returncode == 0
    assert kgitops("diff", project / "repo", "--config", cfg).returncode == 0
    missing = kgitops("diff", project / "nope", "--config", cfg)
    assert (
        missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )
    bad_cfg = project / "bad.yaml"
    bad_cfg.write_text("prune: {enable: true}\n")
    bad = kgitops("diff", project / "repo", "--config", bad_cfg)
    assert bad.returncode == 2 and "prune.enable`" in bad.stderr


def test_sync_dry_run_changes_nothing(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    dry = kgitops("sync", project / "repo", "--config", cfg, "--dry-run")
    assert dry.returncode == 0 and "would create  KusciaJob/cross-domain/job-a" in dry.stdout
    assert kgitops("diff", project / "repo", "--config", cfg).returncode == 1


def test_sync_wait_follows_jobs_and_fails_on_a_failed_job(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    ok = kgitops("sync", project / "repo", "--config", cfg, "--wait", "--timeout", "1m")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "job-a: Succeeded (2/2 tasks)" in ok.stdout
    status = kgitops("status", project / "repo", "--config", cfg)
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if "job-a" in line)
    assert row.split()[:5] == ["KusciaJob", "cross-domain", "job-a", "Synced", "Succeeded"]
    write(project / "repo", "apps/noop.yaml", appimage_doc("echo boom >&2; exit 3"))
    write(project / "repo", "jobs/job-b.yaml", job_doc("job-b"))
    bad = kgitops("sync", project / "repo", "--config", cfg, "--wait", "--timeout", "60")
    assert bad.returncode == 1
    assert "job b" not in bad.stdout and "job-b: Failed (0/1 tasks)" in bad.stdout
    assert "job job-b ended Failed" in bad.stderr


def test_sync_prune_flags_and_max_prune(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    for i in range(3):
        write(project / "repo", f"jobs/extra-{i}.yaml", job_doc(f"extra-{i}"))
    assert kgitops("sync", project / "repo", "--config", cfg).returncode == 0
    for i in range(3):
        (project / "repo" / f"jobs/extra-{i}.yaml").unlink()
    refused = kgitops("sync", project / "repo", "--config", cfg, "--prune", "--max-prune", "2")
    assert refused.returncode == 1 and "more than --max-prune 2" in refused.stdout
    done = kgitops("sync", project / "repo", "--config", cfg, "--prune")
    assert done.returncode == 0 and done.stdout.count("pruned ") == 3


def test_git_source_from_the_config_file_and_status_branch(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state", "source:\n  path: repo\n  git: true\n")
    out = kgitops("sync", "--config", cfg)
    assert out.returncode == 0, out.stderr
    assert repo.repo.references.get("refs/heads/kgitops/status") is not None
    assert repo.repo.head.shorthand == "main" and not repo.repo.status()


def test_drift_is_reported_and_repaired_only_with_recreate_drifted(project: Path) -> None:
    from reconciler.model import ObjectRef

    from .gitops_support import local_backend

    cfg = project / "kgitops.yaml"
    assert kgitops("sync", project / "repo", "--config", cfg).returncode == 0
    backend = local_backend(project / "state")
    try:
        backend.delete(ObjectRef.of("KusciaJob", "job-a"))  # behind kgitops's back
    finally:
        backend.close()
    reported = kgitops("sync", project / "repo", "--config", cfg)
    assert "out-of-sync KusciaJob/cross-domain/job-a: drift is only reported" in reported.stdout
    repaired = kgitops("sync", project / "repo", "--config", cfg, "--recreate-drifted")
    assert "created     KusciaJob/cross-domain/job-a: deleted outside kgitops" in repaired.stdout


def test_confirm_prune_releases_an_object_held_by_a_file_still_in_the_source(project: Path) -> None:
    """A file cut down to fewer documents holds what it lost; `--confirm-prune NAME` prunes just that one."""
    cfg = project / "kgitops.yaml"
    two = dump(job_doc("job-d")) + "---\n" + dump(job_doc("job-e"))
    write(project / "repo", "jobs/two.yaml", two)
    assert kgitops("sync", project / "repo", "--config", cfg).returncode == 0
    write(project / "repo", "jobs/two.yaml", dump(job_doc("job-e")))
    held = kgitops("diff", project / "repo", "--config", cfg, "--prune")
    assert held.returncode == 1 and "--confirm-prune job-d" in held.stdout, held.stdout
    plan = kgitops("diff", project / "repo", "--config", cfg, "--prune", "--confirm-prune", "job-d")
    assert "prune     KusciaJob/cross-domain/job-d" in plan.stdout, plan.stdout
    done = kgitops("sync", project / "repo", "--config", cfg, "--prune", "--confirm-prune", "job-d")
    status = kgitops("status", project / "repo", "--config", cfg, "-o", "json").stdout
    assert "job-d" not in status and "job-e" in status, done.stdout + done.stderr


def test_diff_and_sync_count_held_objects_and_files_alike_and_say_prune_refused_once(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    assert kgitops("sync", project / "repo", "--config", cfg).returncode == 0
    write(project / "repo", "jobs/job-a.yaml", "apiVersion: [\n")  # a syntax error holds the file and job-a
    diff = kgitops("diff", project / "repo", "--config", cfg)
    sync = kgitops("sync", project / "repo", "--config", cfg)
    assert "plan: 1 unchanged, 1 held, 1 held file(s)" in diff.stdout, diff.stdout
    assert "1 held, 1 held file(s)" in sync.stdout, sync.stdout
    for path in (project / "repo" / "jobs/job-a.yaml", project / "repo" / "apps/noop.yaml"):
        path.unlink()
    empty_diff = kgitops("diff", project / "repo", "--config", cfg, "--prune")
    empty_sync = kgitops("sync", project / "repo", "--config", cfg, "--prune")
    for out in (empty_diff.stdout, empty_sync.stdout):
        assert "prune refused: the source yields no objects at all" in out, out
        assert "prune refused: prune refused" not in out, out
