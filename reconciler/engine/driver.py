"""Who drives the engine: exactly one process per state directory, chosen by an advisory lock.

Long-running commands (``engine run``, ``watch``, ``sync --wait``, ``serve``) drive in-process when they
get the lock. Commands that only write (``sync``, ``job create``, ``approve``, stage commands) call
``ensure_driver``: if no process holds the lock, a detached ``kgitops engine run --until-idle`` is started,
so a job never silently waits for a driver that does not exist. It exits when nothing is left to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

LOCK_NAME = "engine.lock"
LOG_NAME = "engine.log"
STARTING_NAME = "engine.starting"  # pid of a driver started but maybe not yet holding the lock
_STARTING_GRACE_SECONDS = 10.0


class EngineLock:
    """``fcntl.flock`` on ``<state>/engine.lock``; freed by the kernel if the holder dies (even kill -9)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def driver_pid(state_dir: str | Path) -> int | None:
    """The pid of the process driving the engine of this state directory, or None if nobody does."""
    path = Path(state_dir) / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            try:
                return int(path.read_text().strip() or 0) or -1
            except (OSError, ValueError):
                return -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def ensure_driver(
    state_dir: str | Path,
    trusted: Sequence[str] = (),
    auto_approve: Sequence[str] = (),
    workspace: str | Path | None = None,
    kill_grace_seconds: float | None = None,
) -> int | None:
    """Start a background ``kgitops engine run --until-idle`` unless some process drives the engine.

    Returns the pid of the driver (existing or new). Safe to call often: a second driver that loses the
    race for the lock exits at once."""
    pid = driver_pid(state_dir)
    if pid is not None:
        return pid
    state = Path(state_dir).resolve()
    starting = _starting(state)
    if starting is not None:  # a driver we started a moment ago is still on its way to the lock
        return starting
    state.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "reconciler", "engine", "run", "--until-idle", "--state-dir", str(state)]
    for t in trusted:
        argv += ["--trust", t]
    for d in auto_approve:
        argv += ["--auto-approve", d]
    argv += ["--workspace", str(Path(workspace).resolve() if workspace else Path.cwd())]
    if kill_grace_seconds is not None:
        argv += ["--kill-grace", str(kill_grace_seconds)]
    with open(state / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    tmp = state / f"{STARTING_NAME}.{os.getpid()}"
    tmp.write_text(str(proc.pid))
    os.replace(tmp, state / STARTING_NAME)
    return proc.pid


def _starting(state: Path) -> int | None:
    """The pid in ``engine.starting`` if that process is still alive and is a driver."""
    marker = state / STARTING_NAME
    try:
        pid = int(marker.read_text().strip())
        fresh = time.time() - marker.stat().st_mtime < _STARTING_GRACE_SECONDS
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            zombie = f.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X")
    except (OSError, ValueError, IndexError):
        return None
    # Right after the fork the child still shows its parent's command line, until it execs.
    return pid if (fresh or b"engine\0run" in cmdline) and not zombie else None


def idle_notice(state_dir: str | Path) -> str:
    """What to tell a user looking at unfinished jobs when no process drives the engine ("" if one does)."""
    if driver_pid(state_dir) is not None:
        return ""
    return (
        "no kgitops process is driving the engine for this state directory, so jobs will not progress; "
        "run `kgitops engine run` (or `kgitops watch` / `kgitops serve`)"
    )
