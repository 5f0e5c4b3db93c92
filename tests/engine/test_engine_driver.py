"""Who drives the engine: one lock holder per state dir, a background driver for commands that only write,
and `kgitops engine run` / `kgitops engine status` as a user sees them."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from click.testing import CliRunner

from reconciler.backends.local import LocalBackend
from reconciler.cli import main
from reconciler.engine.driver import EngineLock, driver_pid, idle_notice
from reconciler.model import ObjectRef

from .engine_fixtures import appimage, kjob


def phase(b: LocalBackend, name: str) -> str:
    job = b.get(ObjectRef.of("KusciaJob", name))
    return str(job.status.get("phase")) if job else ""


def test_engine_lock_is_exclusive(tmp_path: Path) -> None:
    a, b = EngineLock(tmp_path), EngineLock(tmp_path)
    assert driver_pid(tmp_path) is None
    assert a.acquire() and not b.acquire()
    assert driver_pid(tmp_path) is not None
    assert idle_notice(tmp_path) == ""
    a.release()
    assert b.acquire()
    b.release()
    assert "kgitops engine run" in idle_notice(tmp_path)


def test_engine_write_starts_a_background_driver(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path)  # autostart on
    try:
        b.create(appimage("app", "true"))
        for i in range(5):
            b.create(kjob(f"bg{i}", [{"alias": "a"}, {"alias": "b", "dependencies": ["a"]}]))
        deadline = time.monotonic() + 30
        names = [f"bg{i}" for i in range(5)]
        while any(phase(b, n) != "Succeeded" for n in names) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(phase(b, n) == "Succeeded" for n in names)
        assert not b.lock.held  # this process never drove: the background driver did
        deadline = time.monotonic() + 10
        while driver_pid(b.state_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver_pid(b.state_dir) is None  # --until-idle: it went away when done
        log = (b.state_dir / "engine.log").read_text()
        assert log.count("driving the engine") == 1 and "already driven" not in log  # one driver, not five
    finally:
        b.close()


def test_engine_run_cli_until_idle_and_status(tmp_path: Path) -> None:
    state = tmp_path / "state"
    b = LocalBackend(state, autostart=False)
    b.create(appimage("app", "echo hello"))
    b.create(kjob("cli", [{"alias": "a"}]))
    runner = CliRunner()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    r = runner.invoke(main, ["engine", "status", "--state-dir", str(state)])
    assert r.exit_code == 0, r.output
    assert "driver:    none" in r.output and "warning: no kgitops process is driving the engine" in r.output
    r = runner.invoke(
        main,
        ["engine", "run", "--until-idle", "--state-dir", str(state), "--trust", "app", "--timeout", "30"],
    )
    assert r.exit_code == 0, r.output
    # run in-process, the command leaves no signal handler behind (a forked pool worker would inherit it)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers
    assert phase(b, "cli") == "Succeeded"
    assert list(b.logs("cli")) == ["[a/alice-0/main] hello"]
    r = runner.invoke(main, ["engine", "status", "--state-dir", str(state), "-o", "json"])
    info = json.loads(r.output)
    assert (
        info["jobs"] == {"Succeeded": 1} and info["tasks"] == {"Succeeded": 1} and info["driver_pid"] is None
    )
    assert info["notice"] == ""
    b.close()


def test_engine_status_without_state_says_so(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["engine", "status", "--state-dir", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "no engine state in" in r.output
    assert not (tmp_path / "nope").exists()


def test_engine_run_refuses_a_second_driver(tmp_path: Path) -> None:
    lock = EngineLock(tmp_path)
    assert lock.acquire()
    try:
        r = CliRunner().invoke(main, ["engine", "run", "--state-dir", str(tmp_path)])
        assert r.exit_code == 1 and "already drives the engine" in r.output
        r = CliRunner().invoke(main, ["engine", "run", "--until-idle", "--state-dir", str(tmp_path)])
        assert r.exit_code == 0
    finally:
        lock.release()


def test_engine_config_file_settings(tmp_path: Path) -> None:
    (tmp_path / "kgitops.yaml").write_text(
        "engine:\n  state_dir: st\n  trusted_appimages: [app]\n  auto_approve: [bob]\n"
        "  kill_grace_seconds: 1\n"
        "  autostart: false\n"
    )
    from reconciler.backends.factory import open_backend
    from reconciler.config import load_config

    backend = open_backend(load_config(tmp_path / "kgitops.yaml"))
    assert isinstance(backend, LocalBackend)
    try:
        assert backend.state_dir == (tmp_path / "st").resolve()
        backend.create(appimage("app", 'test "$KGITOPS_WORKSPACE" = "' + str(tmp_path.resolve()) + '"'))
        backend.create(kjob("cfg", [{"alias": "a", "parties": [{"domainID": "alice"}, {"domainID": "bob"}]}]))
        assert backend.wait_for_job("cfg", timeout=15).status["phase"] == "Succeeded"
    finally:
        backend.close()


def test_engine_driver_entry_point_stands_alone(tmp_path: Path) -> None:
    """`python -m reconciler.engine` drives the engine without the CLI: the floor below does not depend on
    the command line's arguments."""
    import subprocess
    import sys

    b = LocalBackend(tmp_path / "state", trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    b.create(appimage("app", "true"))
    b.create(kjob("alone", [{"alias": "a"}]))
    b.close()
    state = str(tmp_path / "state")
    argv = [sys.executable, "-m", "reconciler.engine", "--state-dir", state, "--until-idle", "--trust", "app"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "driving the engine" in done.stderr
    again = LocalBackend(tmp_path / "state", autostart=False)
    try:
        assert phase(again, "alone") == "Succeeded"
    finally:
        again.close()
    above = "('reconciler.cli', 'reconciler.backends', 'reconciler.sdk')"
    code = (
        "import sys, reconciler.engine.__main__; "
        f"print(sorted(m for m in sys.modules if m.startswith({above})))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert imported.stdout.strip() == "[]", imported.stdout
