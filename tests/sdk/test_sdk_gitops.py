"""The SDK driven as a user scripts it: a real Git repository, the real embedded engine, real processes."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
from gitops.gitops_support import Repo, appimage_doc, job_doc, wait_for, write_config

from reconciler import sdk
from reconciler.errors import KgitopsError


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a", ("psi", "train"))})
    return r


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    return write_config(tmp_path / "kgitops.yaml", tmp_path / "state")


def test_configure_applies_overrides_over_the_file(tmp_path: Path, cfg_file: Path, repo: Repo) -> None:
    cfg = sdk.configure(
        cfg_file,
        sdk.Overrides(
            source=str(repo.path), git=True, ref="main", prune=True, max_prune=3, status_commit=False
        ),
    )
    assert cfg.source.path == str(repo.path.resolve()) and cfg.source.git and cfg.source.ref == "main"
    assert cfg.prune.enabled and cfg.prune.max == 3 and cfg.status.commit is False
    assert cfg.state_dir == tmp_path / "state"  # from the file: no override given
    bad = tmp_path / "bad.yaml"
    bad.write_text("prune: {enable: true}\n")
    with pytest.raises(KgitopsError) as err:
        sdk.configure(bad)
    assert err.value.exit_code == 2 and "prune.enable" in err.value.message


def test_diff_sync_wait_and_status_on_a_git_source(tmp_path: Path, cfg_file: Path, repo: Repo) -> None:
    cfg = sdk.configure(cfg_file, sdk.Overrides(source=str(repo.path), git=True))
    plan = sdk.diff(cfg)
    assert not plan.error and not plan.in_sync
    assert not (tmp_path / "state" / "engine.db").exists()  # diff is read-only

    synced: list[sdk.SyncReport] = []
    phases: list[str] = []
    report = sdk.sync(
        cfg, wait=True, timeout=120, on_synced=synced.append, on_progress=lambda p: phases.append(p.phase)
    )
    assert report.clean and report.waited_ok and report.waited is not None and report.waited.finished
    assert len(synced) == 1 and synced[0].waited is None  # told before the wait started
    assert {a.outcome.value for a in report.result.applied} == {"created"}
    assert phases[-1] == "Succeeded"
    assert set(report.data_dirs) == {"alice", "bob"}
    assert report.data_dirs["alice"] == tmp_path / "state" / "storage" / "alice" / "data"

    assert sdk.diff(cfg).in_sync
    rows = {r.name: r for r in sdk.status(cfg).rows}
    job = rows["job-a"]
    assert (job.kind, job.sync, job.phase) == ("KusciaJob", "Synced", "Succeeded")
    assert job.revision == str(repo.repo.head.target)[:12]
    assert job.created.endswith("Z") and isinstance(job.age_seconds, int) and job.age_seconds >= 0
    assert json.loads(json.dumps(job.to_dict()))["ageSeconds"] == job.age_seconds


def test_sync_dry_run_changes_nothing_and_a_failed_source_is_an_error(
    tmp_path: Path, cfg_file: Path, repo: Repo
) -> None:
    cfg = sdk.configure(cfg_file, sdk.Overrides(source=str(repo.path), git=True))
    dry = sdk.sync(cfg, dry_run=True, wait=True)  # no wait on a dry run
    assert dry.waited is None and dry.result.dry_run
    assert not sdk.diff(cfg).in_sync
    missing = sdk.configure(cfg_file, sdk.Overrides(source=str(tmp_path / "nope")))
    with pytest.raises(sdk.GitopsError) as err:
        sdk.sync(missing)
    assert err.value.exit_code == 2 and "nope" in err.value.message


def test_a_failing_job_is_reported_by_the_wait(tmp_path: Path, cfg_file: Path, repo: Repo) -> None:
    repo.commit({"apps/noop.yaml": appimage_doc("echo boom >&2; exit 3")})
    cfg = sdk.configure(cfg_file, sdk.Overrides(source=str(repo.path), git=True))
    report = sdk.sync(cfg, wait=True, timeout=120)
    assert report.clean and not report.waited_ok
    assert report.waited is not None and [p.phase for p in report.waited.bad] == ["Failed"]


def test_watch_stops_on_sigterm_and_says_which_signal(tmp_path: Path, cfg_file: Path, repo: Repo) -> None:
    overrides = sdk.Overrides(source=str(repo.path), git=True, status_dir=str(tmp_path / "st"))
    cfg = sdk.configure(cfg_file, overrides)
    ready = threading.Event()

    def stop_once_status_is_written() -> None:
        ready.wait(60)
        wait_for(lambda: list((tmp_path / "st").rglob("*.yaml")), 60, "status files")
        signal.raise_signal(signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_status_is_written, daemon=True)
    stopper.start()
    assert sdk.watch(cfg, ready=ready.set) == signal.SIGTERM
    stopper.join(10)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are restored
