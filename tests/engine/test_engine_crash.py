"""Crash safety: a driver killed with SIGKILL mid-job; the next driver finishes the job, adopting the
processes that outlived the crash, and nothing runs twice."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from reconciler.backends.local import LocalBackend
from reconciler.engine.driver import driver_pid
from reconciler.engine.runtime import procfs
from reconciler.engine.store import DB_NAME
from reconciler.model import ObjectRef

from .engine_fixtures import appimage, kjob


def start_driver(state: Path, workspace: Path, until_idle: bool = False) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "reconciler",
        "engine",
        "run",
        "--state-dir",
        str(state),
        "--trust",
        "app",
        "--workspace",
        str(workspace),
    ]
    if until_idle:
        argv.append("--until-idle")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(cond, timeout: float = 20) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def stopped_outside_a_write(pid: int, db: Path) -> bool:
    """SIGSTOP the driver at a moment it holds no write transaction (else every writer would wait for it
    until the busy timeout); when it does, let it go on (SIGCONT) and say so, for ``wait_for`` to retry."""
    os.kill(pid, signal.SIGSTOP)
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked: stopped inside a write
        os.kill(pid, signal.SIGCONT)
        return False
    finally:
        probe.close()


def job_status(b: LocalBackend, name: str) -> dict:
    job = b.get(ObjectRef.of("KusciaJob", name))
    return job.status if job else {}


def test_engine_sigkill_mid_job_resumes_without_duplicates(tmp_path: Path) -> None:
    state, journal = tmp_path / "state", tmp_path / "journal"
    script = f'echo "$KUSCIA_TASK_ID start" >> {journal}; sleep 0.8; echo "$KUSCIA_TASK_ID end" >> {journal}'
    client = LocalBackend(state, autostart=False)
    client.create(appimage("app", script))
    client.create(
        kjob(
            "crash",
            [{"alias": "a"}, {"alias": "b", "dependencies": ["a"]}, {"alias": "c", "dependencies": ["b"]}],
        )
    )
    driver = start_driver(state, tmp_path)
    try:
        assert wait_for(lambda: journal.exists() and "crash-b start" in journal.read_text())
        os.kill(driver.pid, signal.SIGKILL)  # b's process outlives its driver
        driver.wait()
        assert wait_for(lambda: driver_pid(state) is None, 5)
        second = start_driver(state, tmp_path, until_idle=True)
        assert second.wait(timeout=30) == 0, second.stderr.read() if second.stderr else ""
    finally:
        if driver.poll() is None:
            driver.kill()
    status = job_status(client, "crash")
    assert status["phase"] == "Succeeded", status
    lines = journal.read_text().splitlines()
    for t in ("a", "b", "c"):
        assert lines.count(f"crash-{t} start") == 1, lines
        assert lines.count(f"crash-{t} end") == 1, lines
    assert not client.store.pods(live_only=True)
    client.close()


def test_engine_repeated_sigkills_at_random_instants(tmp_path: Path) -> None:
    state, journal = tmp_path / "state", tmp_path / "journal"
    script = f'echo "$KUSCIA_TASK_ID" >> {journal}; sleep 0.1'
    client = LocalBackend(state, autostart=False)
    client.create(appimage("app", script))
    tasks = [{"alias": "t0"}] + [{"alias": f"t{i}", "dependencies": [f"t{i - 1}"]} for i in range(1, 8)]
    tasks.append({"alias": "side", "parties": [{"domainID": "alice"}, {"domainID": "bob"}]})
    client.create(kjob("storm", tasks, maxParallelism=2, initiator="alice"))
    client.approve(ObjectRef.of("KusciaJob", "storm"), "bob", True)
    rng = random.Random(7)
    for _ in range(6):
        d = start_driver(state, tmp_path)
        time.sleep(rng.uniform(0.15, 0.5))
        d.send_signal(signal.SIGKILL)
        d.wait()
        if job_status(client, "storm").get("completionTime"):
            break
    last = start_driver(state, tmp_path, until_idle=True)
    assert last.wait(timeout=60) == 0
    assert job_status(client, "storm")["phase"] == "Succeeded"
    lines = journal.read_text().splitlines()
    expected = [f"storm-t{i}" for i in range(8)] + ["storm-side", "storm-side"]  # side: one line per party
    assert sorted(lines) == sorted(expected), lines
    assert not client.store.pods(live_only=True)
    client.close()


def test_a_task_deleted_while_its_driver_is_killed_has_its_processes_ended_by_the_next(
    tmp_path: Path,
) -> None:
    """The deletion is written while the driver is stopped (SIGSTOP: it cannot take it in), then the driver
    is killed: the task's processes outlive both, and the next driver ends them."""
    state = tmp_path / "state"
    client = LocalBackend(state, autostart=False)
    client.create(appimage("app", "sleep 600"))
    client.create(kjob("doomed", [{"alias": "a", "parties": [{"domainID": "alice"}, {"domainID": "bob"}]}]))
    client.approve(ObjectRef.of("KusciaJob", "doomed"), "bob", True)
    driver = start_driver(state, tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(lambda: len([p for p in client.store.pods(live_only=True) if p.pid]) == 2)
        pods = [(p.pid, p.start_ticks) for p in client.store.pods(live_only=True)]
        assert wait_for(lambda: stopped_outside_a_write(driver.pid, state / DB_NAME))
        client.delete(ObjectRef.of("KusciaJob", "doomed"))  # the lock is held: the deletion is only logged
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        assert wait_for(lambda: driver_pid(state) is None, 5)
        assert all(procfs.alive(pid, ticks) for pid, ticks in pods)  # orphans now, nobody ends them
        second = start_driver(state, tmp_path, until_idle=True)
        assert second.wait(timeout=30) == 0, second.stderr.read() if second.stderr else ""
        assert not any(procfs.alive(pid, ticks) for pid, ticks in pods)
        assert not client.store.pods()
        assert client.get(ObjectRef.of("KusciaJob", "doomed")) is None
    finally:
        for proc in (driver, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for pod in client.store.pods():  # a failed run leaves no sleeping process behind
            with contextlib.suppress(OSError):
                os.killpg(pod.pid, signal.SIGKILL)
        client.close()
