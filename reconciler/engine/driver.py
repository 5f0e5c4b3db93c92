"""Who drives the engine: exactly one process per state directory, chosen by an advisory lock.

Long-running commands (``engine run``, ``watch``, ``sync --wait``, ``serve``) drive in-process when they
get the lock. Commands that only write (``sync``, ``job create``, ``approve``, stage commands) call
``ensure_driver``: if no process holds the lock, a detached driver is started, so a job never silently waits
for a driver that does not exist. It exits when nothing is left to do.

The detached driver is the engine's own entry point, ``python -m reconciler.engine --state-dir DIR
[--until-idle] [--trust GLOB]… [--auto-approve DOMAIN]… [--workspace DIR] [--kill-grace SECONDS]
[--timeout SECONDS]`` (``reconciler/engine/__main__.py``): it depends on nothing above the engine.
``drive`` is the loop it runs, and ``kgitops engine run`` runs the same.

A driver is never handed the trust list or the automatic approvals when it starts: it reads the settings in
force from the store before each decision (``engine/trust_settings.py``), as the commands that write publish
them, so a driver started by an earlier command never decides with that command's settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from reconciler.engine.private_files import open_private, private_dir
from reconciler.engine.trust_settings import TrustSettings

LOCK_NAME = "engine.lock"
LOG_NAME = "engine.log"
STARTING_NAME = "engine.starting"  # pid of a driver started but maybe not yet holding the lock
ENTRY_MODULE = "reconciler.engine"  # ``python -m reconciler.engine``: the driver's entry point
_STARTING_GRACE_SECONDS = 10.0


class EngineLock:
    """``fcntl.flock`` on ``<state>/engine.lock``; freed by the kernel if the holder dies (even kill -9).

    The holder writes ``<pid> <token>`` into the file: ``token`` names this lock object, so two objects of
    one process are told apart (``driver_identity``)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self.token = uuid.uuid4().hex
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
        os.write(fd, f"{os.getpid()} {self.token}".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def driver_pid(state_dir: str | Path) -> int | None:
    """The pid of the process driving the engine of this state directory, or None if nobody does (-1: some
    process does, but its pid cannot be read)."""
    identity = driver_identity(state_dir)
    return None if identity is None else identity[0]


def driver_identity(state_dir: str | Path) -> tuple[int, str] | None:
    """(pid, lock token) of the driver of this state directory (``EngineLock``), or None if nobody drives;
    (-1, "") when the lock is held but the file cannot be read."""
    path = Path(state_dir) / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            try:
                pid, _, token = path.read_text().strip().partition(" ")
                return (int(pid or 0) or -1), token
            except (OSError, ValueError):
                return -1, ""
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def ensure_driver(
    state_dir: str | Path,
    workspace: str | Path | None = None,
    kill_grace_seconds: float | None = None,
) -> int | None:
    """Start a background driver (``python -m reconciler.engine --until-idle``) unless some process drives
    the engine. It decides with the settings in force, which the caller published first
    (``trust_settings.publish``).

    Returns the pid of the driver (existing or new). Safe to call often: a second driver that loses the
    race for the lock exits at once."""
    pid = driver_pid(state_dir)
    if pid is not None:
        return pid
    state = Path(state_dir).resolve()
    starting = _starting(state)
    if starting is not None:  # a driver we started a moment ago is still on its way to the lock
        return starting
    private_dir(state)  # 0700 when new: it holds the jobs, their logs and environments
    argv = [sys.executable, "-m", ENTRY_MODULE, "--until-idle", "--state-dir", str(state)]
    argv += ["--workspace", str(Path(workspace).resolve() if workspace else Path.cwd())]
    if kill_grace_seconds is not None:
        argv += ["--kill-grace", str(kill_grace_seconds)]
    import subprocess  # the one process start; the readers that open the state never load it

    with open(open_private(state / LOG_NAME, os.O_WRONLY | os.O_APPEND), "ab") as log:
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
    return pid if (fresh or ENTRY_MODULE.encode() in cmdline) and not zombie else None


def idle_notice(state_dir: str | Path) -> str:
    """What to tell a user looking at unfinished jobs when no process drives the engine ("" if one does)."""
    if driver_pid(state_dir) is not None:
        return ""
    return (
        "no kgitops process is driving the engine for this state directory, so jobs will not progress; "
        "run `kgitops engine run` (or `kgitops watch` / `kgitops serve`)"
    )


class AlreadyDriven(Exception):
    """Another process holds the engine lock of the state directory; ``pid`` is that process (or None)."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        super().__init__(f"another process (pid {pid}) already drives the engine in {state_dir}")
        self.state_dir = state_dir
        self.pid = pid


@dataclass(frozen=True)
class DriverSettings:
    """How a driver runs the engine of ``state_dir``: ``publish``, the settings of the command that starts
    it (kgitops.yaml), made the settings in force when it takes the lock (None: the background driver, which
    follows what the commands published); ``extra``, trust and automatic approvals added for as long as this
    driver runs (``--trust``, ``--auto-approve``); the processes' KGITOPS_WORKSPACE, the seconds between
    SIGTERM and SIGKILL, whether to exit once no job can progress without a human, and a time limit
    (seconds)."""

    state_dir: Path
    publish: TrustSettings | None = None
    extra: TrustSettings = field(default_factory=TrustSettings)
    workspace: Path = field(default_factory=Path.cwd)
    kill_grace_seconds: float = 5.0
    until_idle: bool = False
    timeout: float | None = None


def drive(settings: DriverSettings, on_start: Callable[[int], None] | None = None) -> None:
    """Take the engine lock and drive the controllers in this process until SIGTERM/SIGINT, the timeout, or
    (``until_idle``) until nothing can progress. ``on_start(pid)`` is called once the lock is ours.

    Processes of the tasks run as children of this process; the next driver adopts those still running.
    Raises AlreadyDriven when another process drives the engine."""
    from reconciler.engine.engine import Engine
    from reconciler.engine.runtime.process import ProcessRuntime
    from reconciler.engine.store import Store
    from reconciler.engine.trust_settings import StoredSettings, publish

    state = settings.state_dir.resolve()
    private_dir(state)
    lock = EngineLock(state)
    if not lock.acquire():
        raise AlreadyDriven(state, driver_pid(state))
    store = Store.open(state)
    if settings.publish is not None:
        publish(store, settings.publish, (os.getpid(), lock.token))
    in_force = StoredSettings(store, settings.extra)
    workspace = settings.workspace.resolve()
    runtime = ProcessRuntime(store, state, in_force, workspace, settings.kill_grace_seconds)
    engine = Engine(store, runtime, settings=in_force)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        engine.wake()

    # restored when the loop ends, so running it in-process (tests, embedding) leaves no handler behind:
    # a forked child (a multiprocessing pool) would inherit it and ignore its SIGTERM
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if on_start is not None:
        on_start(os.getpid())
    until_idle, timeout = settings.until_idle, settings.timeout
    try:
        idle = engine.run(stop=stop, until_idle=until_idle, timeout=timeout)
        # A job written between our last look and the release of the lock finds the lock held and starts
        # no driver: look again after releasing it, and carry on if there is work (unless another took it).
        while until_idle and idle:
            lock.release()
            if not engine.busy() or not lock.acquire():
                break
            idle = engine.run(stop=stop, until_idle=True, timeout=timeout)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.close()
        runtime.close()
        lock.release()
        store.close()
