"""The driver is event-driven: it works when a write, a process exit or a due deadline concerns a job, and
otherwise costs nothing (counted through ``Engine.metrics``, never timed)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.backends.local import LocalBackend
from reconciler.engine.runtime import procfs
from reconciler.engine.store import Store
from reconciler.model import ObjectRef

from .engine_fixtures import appimage, kjob


def waiting_jobs(b: LocalBackend, n: int) -> list[str]:
    """``n`` one-task jobs that bob must approve: they stop in AwaitingApproval."""
    b.create(appimage("app", "true"))
    names = [f"wait{i}" for i in range(n)]
    for name in names:
        b.create(kjob(name, [{"alias": "a", "parties": [{"domainID": "alice"}, {"domainID": "bob"}]}]))
    return names


def phase(store: Store, name: str) -> str:
    job = store.get(ObjectRef.of("KusciaJob", name))
    return str(job.status.get("phase")) if job else ""


def poll(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_idle_engine_with_jobs_awaiting_approval_does_no_work(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    try:
        names = waiting_jobs(b, 40)
        assert b.run_until(lambda: all(phase(b.store, n) == "AwaitingApproval" for n in names), timeout=60)
        while b.step():  # the echoes of the last writes
            pass
        metrics = b.engine.metrics
        reconciles, feed_reads = metrics.reconciles, metrics.feed_reads
        for _ in range(20):  # twenty idle rounds: a wait that times out, then a step
            b.engine.wait(0.001)
            assert not b.step()
        assert metrics.reconciles == reconciles  # no job was looked at again
        assert metrics.feed_reads == feed_reads  # the store's revision did not move: nothing was read
        assert metrics.full_passes == 1  # everything was looked at once, when driving began
        assert metrics.waits >= 20
    finally:
        b.close()


def test_a_job_approved_by_another_process_starts_promptly_and_alone(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    other = Store.open(tmp_path / "state")  # another connection: what `kgitops job approve` elsewhere uses
    stop = threading.Event()
    driver = threading.Thread(target=b.engine.run, kwargs={"stop": stop}, daemon=True)
    try:
        names = waiting_jobs(b, 30)
        assert b.drive()
        driver.start()
        assert poll(lambda: all(phase(other, n) == "AwaitingApproval" for n in names))
        waits = b.engine.metrics.waits
        assert poll(lambda: b.engine.metrics.waits > waits)  # it went to sleep: the echoes are behind it
        reconciles = b.engine.metrics.reconciles
        with other.transaction():
            job = other.get(ObjectRef.of("KusciaJob", "wait7"))
            assert job is not None
            job.status["approveStatus"]["bob"] = "JobAccepted"
            other.put(job)
        assert poll(lambda: phase(other, "wait7") == "Succeeded"), phase(other, "wait7")
        assert all(phase(other, n) == "AwaitingApproval" for n in names if n != "wait7")
        # the approved job and its task were reconciled a few times each; the 29 others not once
        assert b.engine.metrics.reconciles - reconciles < 29
    finally:
        stop.set()
        b.engine.wake()
        if driver.is_alive():
            driver.join()
        other.close()
        b.close()


def test_a_write_from_another_thread_wakes_the_waiting_driver(tmp_path: Path) -> None:
    """``serve`` writes from its request threads while a thread drives: the write ends the driver's wait."""
    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    try:
        names = waiting_jobs(b, 3)
        assert b.run_until(lambda: all(phase(b.store, n) == "AwaitingApproval" for n in names), timeout=60)
        waits = b.engine.metrics.waits
        approve = threading.Timer(0.05, b.approve, (ObjectRef.of("KusciaJob", "wait1"), "bob", True))
        approve.start()
        started = time.monotonic()
        b.engine.wait(120.0)  # would sleep two minutes if the approval did not wake it
        woke_after = time.monotonic() - started
        approve.join()
        assert b.engine.metrics.waits == waits + 1
        assert woke_after < 60  # a bound, not a performance target: woken by the write, not the timeout
        assert b.run_until(lambda: phase(b.store, "wait1") == "Succeeded", timeout=60)
    finally:
        b.close()


def test_finishes_are_seen_while_a_large_batch_still_launches(tmp_path: Path) -> None:
    """With many jobs to start, the first task's exit is acted on before the last process starts (not in
    one burst once every process is launched)."""
    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    n = 120
    try:
        b.create(appimage("app", "true"))
        for i in range(n):
            b.create(kjob(f"many{i:03d}", [{"alias": "a"}]))
        launched_sql = "SELECT count(*) FROM pods WHERE pid > 0"
        succeeded_sql = "SELECT count(*) FROM objects WHERE kind='KusciaTask'"
        succeeded_sql += " AND status->>'phase' = 'Succeeded'"
        seen: list[tuple[int, int]] = []  # (launched, succeeded) after each engine step
        first_pid: list[int] = []
        db = sqlite3.connect(b.state_dir / "engine.db")

        def after_step() -> bool:
            launched = int(db.execute(launched_sql).fetchone()[0])
            succeeded = int(db.execute(succeeded_sql).fetchone()[0])
            seen.append((launched, succeeded))
            if launched and not first_pid:
                first_pid.append(int(db.execute("SELECT pid FROM pods WHERE pid > 0 LIMIT 1").fetchone()[0]))
                # the first process has certainly ended before the engine goes on launching
                assert poll(lambda: not procfs.alive(first_pid[0], 0))
            return succeeded == n

        assert b.drive()
        assert b.engine.run(until=after_step, timeout=240)
        first_success = next(i for i, (_, s) in enumerate(seen) if s)
        launched_then = seen[first_success][0]
        assert launched_then < n, seen[: first_success + 1]  # others were still to start
        assert any(launched < n for launched, s in seen if s)
        db.close()
    finally:
        b.close()


def test_the_next_driver_starts_where_the_last_one_left_off(tmp_path: Path) -> None:
    """A background driver started for one approval looks at that job, not at every waiting job again."""
    state = tmp_path / "state"
    first = LocalBackend(state, trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    names = waiting_jobs(first, 30)
    assert first.run_until(lambda: all(phase(first.store, n) == "AwaitingApproval" for n in names), 60)
    while first.step():
        pass
    assert first.engine.metrics.full_passes == 1
    first.close()
    other = Store.open(state)  # `kgitops job approve wait3` while no driver runs
    with other.transaction():
        job = other.get(ObjectRef.of("KusciaJob", "wait3"))
        assert job is not None
        job.status["approveStatus"]["bob"] = "JobAccepted"
        other.put(job)
    other.close()
    second = LocalBackend(state, trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    try:
        assert second.run_until(lambda: phase(second.store, "wait3") == "Succeeded", timeout=60)
        assert second.engine.metrics.full_passes == 0
        assert second.engine.metrics.reconciles < 29  # the 29 jobs still waiting were not looked at
        assert all(phase(second.store, n) == "AwaitingApproval" for n in names if n != "wait3")
    finally:
        second.close()
