"""Exit codes and messages that tell the truth (issue 12, section H), as a user runs the commands: real
processes, the real embedded engine. The policy is ``reconciler.cli.exitcodes``; the table is
``docs/exit-codes.md``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.model import ObjectRef

from .gitops_support import APP, appimage_doc, job_doc, local_backend, wait_for, write

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
MISSPELT = "apiVersion: kuscia.secretflow/v1alpha1\nkind: KusicaJob\nmetadata: {name: b}\n"


def kgitops(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def config(
    tmp_path: Path, auto_approve: str = "[alice, bob]", extra: str = "", name: str = "kgitops"
) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"engine:\n  state_dir: {tmp_path / 'state'}\n  trusted_appimages: [{APP}]\n"
        f"  auto_approve: {auto_approve}\n  autostart: false\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc())
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    return repo, config(tmp_path)


def test_diff_exits_1_on_any_difference_and_0_only_in_sync(project: tuple[Path, Path]) -> None:
    repo, cfg = project
    assert kgitops("diff", repo, "--config", cfg).returncode == 1  # create
    assert kgitops("sync", repo, "--config", cfg).returncode == 0
    assert kgitops("diff", repo, "--config", cfg).returncode == 0
    # a changed one-shot job: OutOfSync, not re-run, but a difference all the same (argo-cd#28722)
    write(repo, "jobs/job-a.yaml", job_doc("job-a", ("psi", "train")))
    changed = kgitops("diff", repo, "--config", cfg)
    assert changed.returncode == 1 and "~ changed   KusciaJob/cross-domain/job-a" in changed.stdout
    doc = json.loads(kgitops("diff", repo, "--config", cfg, "-o", "json").stdout)
    assert doc["hasChanges"] is True and doc["inSync"] is False and doc["willChange"] is False
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    # held: a broken file
    write(repo, "jobs/broken.yaml", "kind: KusciaJob\nmetadata: {name: x\n")
    held = kgitops("diff", repo, "--config", cfg)
    assert held.returncode == 1 and "! held      jobs/broken.yaml" in held.stdout
    (repo / "jobs/broken.yaml").unlink()
    # prune (not enabled): still a difference
    (repo / "jobs/job-a.yaml").unlink()
    assert kgitops("diff", repo, "--config", cfg).returncode == 1
    missing = kgitops("diff", repo.parent / "nope", "--config", cfg)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_sync_exits_1_when_anything_is_held_out_of_sync_or_refused(project: tuple[Path, Path]) -> None:
    repo, cfg = project
    assert kgitops("sync", repo, "--config", cfg).returncode == 0
    write(repo, "jobs/job-a.yaml", job_doc("job-a", ("psi", "train")))
    out_of_sync = kgitops("sync", repo, "--config", cfg)
    assert out_of_sync.returncode == 1 and "not in sync: 1 out-of-sync" in out_of_sync.stderr
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    assert kgitops("sync", repo, "--config", cfg).returncode == 0
    write(repo, "jobs/broken.yaml", MISSPELT)
    held = kgitops("sync", repo, "--config", cfg)
    assert held.returncode == 1
    # held files are printed as diff prints them: file:line:col, rule, message
    assert "held        jobs/broken.yaml:2:7: KIND003 kind 'KusicaJob'" in held.stdout
    assert "not in sync: 1 held file(s)" in held.stderr
    json_out = json.loads(kgitops("sync", repo, "--config", cfg, "-o", "json").stdout)
    assert json_out["clean"] is False and json_out["heldFiles"][0]["path"] == "jobs/broken.yaml"


def test_max_prune_zero_prunes_nothing_absent_no_limit_negative_refused(project: tuple[Path, Path]) -> None:
    repo, cfg = project
    write(repo, "jobs/job-b.yaml", job_doc("job-b"))
    assert kgitops("sync", repo, "--config", cfg).returncode == 0
    (repo / "jobs/job-b.yaml").unlink()
    zero = kgitops("sync", repo, "--config", cfg, "--prune", "--max-prune", "0")
    assert zero.returncode == 1 and "more than --max-prune 0" in zero.stdout and "pruned " not in zero.stdout
    negative = kgitops("sync", repo, "--config", cfg, "--prune", "--max-prune", "-1")
    assert negative.returncode == 2 and "-1" in negative.stderr and "Traceback" not in negative.stderr
    in_config = config(repo.parent, extra="prune:\n  enabled: true\n  max: 0\n", name="max-zero")
    assert "pruned " not in kgitops("sync", repo, "--config", in_config).stdout
    unlimited = kgitops("sync", repo, "--config", cfg, "--prune")
    assert unlimited.returncode == 0 and "pruned      KusciaJob/cross-domain/job-b" in unlimited.stdout


def test_sigint_exits_130_and_says_the_jobs_keep_running(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc("sleep 30"))
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    cfg = config(tmp_path)
    log = tmp_path / "sync.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "sync", str(repo), "--config", str(cfg), "--wait"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            env=ENV,
        )
    try:
        wait_for(lambda: "job-a: Running" in log.read_text(), timeout=60, what="the job running")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "interrupted (SIGINT)" in text and "the jobs keep running" in text
    assert f"kgitops job list --config {cfg}" in text and "Traceback" not in text
    backend = local_backend(tmp_path / "state")
    try:
        assert backend.get(ObjectRef.of("KusciaJob", "job-a")) is not None  # Ctrl-C deletes nothing
    finally:
        backend.close()


def test_wait_names_the_parties_to_approve_and_gives_reasons_on_timeout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc())
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    cfg = config(tmp_path, auto_approve="[alice]")
    out = kgitops("sync", repo, "--config", cfg, "--wait", "--timeout", "3")
    assert out.returncode == 1
    assert "job-a: AwaitingApproval (0/1 tasks), waiting for approval by bob" in out.stdout
    assert "`kgitops job approve job-a --domain bob`" in out.stdout
    assert "timed out after 3s waiting for 1 job(s):" in out.stderr
    assert "  job-a: AwaitingApproval (0/1 tasks): approval by bob" in out.stderr


def test_wait_follows_a_standalone_kuscia_task(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc())
    task = {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaTask",
        "metadata": {"name": "task-x"},
        "spec": {
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": APP}],
        },
    }
    write(repo, "tasks/task-x.yaml", task)
    out = kgitops("sync", repo, "--config", config(tmp_path), "--wait", "--timeout", "60")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "task task-x: Succeeded (1/1 tasks)" in out.stdout


def test_wait_follows_only_the_jobs_this_sync_set_moving(tmp_path: Path) -> None:
    """A job that ended Failed in an earlier sync is not this sync's failure: `sync --wait` follows what it
    created, re-created or changed, and says so when that is nothing."""
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc(command="exit 3"))
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    cfg = config(tmp_path)
    failed = kgitops("sync", repo, "--config", cfg, "--wait", "--timeout", "60")
    assert failed.returncode == 1 and "job job-a ended Failed" in failed.stderr, failed.stdout + failed.stderr
    write(repo, "apps/noop.yaml", appimage_doc())  # fixed in place: job-a stays Failed (one-shot)
    write(repo, "jobs/job-b.yaml", job_doc("job-b"))
    out = kgitops("sync", repo, "--config", cfg, "--wait", "--timeout", "60")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "job-b: Succeeded" in out.stdout
    assert "job-a" not in out.stdout + out.stderr
    again = kgitops("sync", repo, "--config", cfg, "--wait", "--timeout", "60")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to wait for" in again.stdout and "job-a" not in again.stdout + again.stderr
    # a job re-created on purpose is followed again, alone
    write(repo, "jobs/job-a.yaml", job_doc("job-a", ("psi", "train")))
    rerun = kgitops("sync", repo, "--config", cfg, "--wait", "--timeout", "60", "--recreate", "job-a")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "job-a: Succeeded (2/2 tasks)" in rerun.stdout and "job-b:" not in rerun.stdout


def test_watch_logs_held_files_with_position_and_rule(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "apps/noop.yaml", appimage_doc())
    write(repo, "jobs/bad.yaml", MISSPELT)
    log = tmp_path / "watch.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "watch", str(repo), "--config", str(config(tmp_path))],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    try:
        wait_for(lambda: "held file jobs/bad.yaml" in log.read_text(), timeout=60, what="the held file")
        assert "jobs/bad.yaml:2:7: KIND003" in log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 130 and "the jobs keep running" in log.read_text()
