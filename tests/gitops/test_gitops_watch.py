"""`kgitops watch`: file events and Git polling drive reconciles, status is written back, one watcher per
state, a clean stop on SIGTERM, metrics and health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.apply.session import open_session
from reconciler.config import Config
from reconciler.model import ObjectRef
from reconciler.watch import Watcher, WatchLockError, WatchSettings

from .gitops_support import Repo, appimage_doc, config, job_doc, local_backend, wait_for, write, write_config

FAST = WatchSettings(poll_interval=0.1, resync_interval=0.5, status_interval=0.2, debounce=0.05)


@contextmanager
def running(cfg: Config, settings: WatchSettings = FAST) -> Iterator[Watcher]:
    backend = local_backend(Path(cfg.engine.state_dir))
    watcher = Watcher(open_session(cfg, backend), settings, cfg.state_dir)
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            watcher.run(ready=ready.set)
        except BaseException as exc:  # surfaced in the test
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(60)
    if errors:
        raise errors[0]
    try:
        yield watcher
    finally:
        watcher.stop()
        thread.join(10)
        backend.close()
    assert not thread.is_alive()


def test_file_save_creates_the_job_and_status_follows(tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    write(src, "job-a.yaml", job_doc("job-a"))
    write(src, "apps/noop.yaml", appimage_doc())
    cfg = config(src, state, status_dir=tmp_path / "status")
    with running(cfg) as w:
        backend = w.session.backend
        assert backend.get(ObjectRef.of("KusciaJob", "job-a")) is not None
        write(src, "team/job-b.yaml", job_doc("job-b"))
        wait_for(lambda: backend.get(ObjectRef.of("KusciaJob", "job-b")), what="job-b created by the watcher")
        status = tmp_path / "status/cross-domain/KusciaJob/job-b.yaml"
        wait_for(status.exists, what="status file of job-b")
        # the engine runs in the watcher: the job's live phase reaches its status file
        try:
            wait_for(
                lambda: "phase: Succeeded" in status.read_text(), what="job-b Succeeded in its status file"
            )
        finally:
            print(status.read_text())


def test_git_polling_picks_up_a_new_commit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    cfg = config(tmp_path / "repo", tmp_path / "state", git=True)
    with running(cfg) as w:
        repo.commit({"job-b.yaml": job_doc("job-b")})
        wait_for(
            lambda: w.session.backend.get(ObjectRef.of("KusciaJob", "job-b")), what="job-b from the poll"
        )
        wait_for(lambda: repo.repo.references.get("refs/heads/kgitops/status"), what="a status commit")
        assert repo.repo.head.shorthand == "main"


def test_commits_in_a_row_are_not_held_up_by_status_refreshes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each reconcile of a new commit writes status back: while commits keep coming faster than
    ``status_interval``, no separate status refresh runs (one would hold the next commit up), and each
    reconcile's stages are logged (``kgitops.watch.stages``)."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    cfg = config(tmp_path / "repo", tmp_path / "state", git=True, status_dir=tmp_path / "status")
    settings = WatchSettings(poll_interval=0.02, resync_interval=600, status_interval=1.0, debounce=0.05)
    with caplog.at_level("DEBUG", logger="kgitops.watch.stages"), running(cfg, settings) as w:
        started = time.monotonic()
        k = 0
        while time.monotonic() - started < 2.5 * settings.status_interval:  # commits for 2.5 intervals
            k += 1
            repo.commit({f"job-{k}.yaml": job_doc(f"job-{k}")})
            ref = ObjectRef.of("KusciaJob", f"job-{k}")
            wait_for(lambda: w.session.backend.get(ref), what=f"job-{k} from the poll")  # noqa: B023
            status = tmp_path / f"status/cross-domain/KusciaJob/job-{k}.yaml"
            wait_for(status.exists, what=f"the status file of job-{k}")
    logged = [r.__dict__["fields"] for r in caplog.records if r.name == "kgitops.watch.stages"]
    triggers = [f["trigger"] for f in logged]
    assert triggers[0] == "start" and len(triggers) > k
    assert "status" not in triggers, triggers
    assert all({"lock", "live", "diff", "apply", "status", "report"} <= set(f["stages"]) for f in logged)


def test_drift_is_reported_not_repaired(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    cfg = config(src, tmp_path / "state")
    ref = ObjectRef.of("KusciaJob", "job-a")
    with caplog.at_level("WARNING", logger="kgitops"), running(cfg) as w:
        w.session.backend.delete(ref)
        wait_for(lambda: "drift: KusciaJob/cross-domain/job-a: deleted outside kgitops" in caplog.text)
        assert w.session.backend.get(ref) is None


def test_a_second_watcher_on_the_same_state_refuses(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    cfg = config(src, tmp_path / "state")
    with running(cfg):
        backend = local_backend(tmp_path / "state")
        try:
            second = Watcher(open_session(cfg, backend), FAST, cfg.state_dir)
            with pytest.raises(WatchLockError, match="another kgitops watch .* already running"):
                second.run()
        finally:
            backend.close()


def test_cli_watch_two_instances_metrics_and_clean_sigterm(tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    write(src, "job-a.yaml", job_doc("job-a"))
    cfg = write_config(tmp_path / "kgitops.yaml", state)
    argv = [sys.executable, "-m", "reconciler", "watch", str(src), "--config", str(cfg)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [*argv, "--metrics-addr", "127.0.0.1:0", "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert first.stderr is not None
        lines: list[dict] = []
        while not any(d["msg"].startswith("created ") for d in lines):
            line = first.stderr.readline()
            assert line, "watch exited early"
            lines.append(json.loads(line))
        addr = (
            next(d["msg"] for d in lines if d["msg"].startswith("metrics on ")).split("//")[1].split("/")[0]
        )
        with urllib.request.urlopen(f"http://{addr}/healthz", timeout=5) as resp:
            assert resp.status == 200 and resp.read() == b"ok\n"

        def metrics() -> str:
            with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as resp:
                return resp.read().decode()

        wait_for(lambda: 'kgitops_objects{sync_state="Synced"} 1' in metrics(), what="the objects gauge")
        assert "kgitops_reconcile_duration_seconds_count" in metrics()
        for stage in ("source", "live", "diff", "apply", "status", "report"):  # where the time goes
            assert f'kgitops_reconcile_stage_seconds_count{{stage="{stage}"}}' in metrics()
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert second.returncode == 2
        assert "another kgitops watch" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    rest = first.stderr.read() if first.stderr else ""
    assert '"msg": "stopped"' in rest and "Traceback" not in rest
