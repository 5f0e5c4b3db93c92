"""One writer at a time per state directory.

``kgitops sync`` and every reconcile of ``kgitops watch`` hold this lock from reading the live state and the
inventory to writing status back. Without it two writers plan from the same inventory and each replaces the
other's entries, both create the same jobs (one then reports a healthy job "Failed: already exists"), and
the status branch is moved back to an older snapshot. A second writer waits for the first and says so.

The lock is ``flock(2)`` on ``<state dir>/writer.lock``: released by the kernel when its holder dies, even by
kill -9, so a crash never leaves it stuck. The file holds the holder's pid and command, for the message.

Who may reconcile at all in ``kgitops watch`` is a ``Leadership``: ``StateLock`` (``<state dir>/watch.lock``,
held for the watcher's lifetime: a second watcher on the same state directory refuses to start) and, for
replicas in a cluster, also a Lease (``reconciler.backends.k8s.lease.LeaseElector``), held ``Jointly``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Protocol

LOCK_NAME = "writer.lock"
WATCH_LOCK_NAME = "watch.lock"


class WriterLock:
    def __init__(self, state_dir: str | Path, what: str = "kgitops") -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self.what = what

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it (``pid 123: kgitops sync``), or ``another process``."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        return text or "another process"

    @contextlib.contextmanager
    def hold(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lock for the block; when another writer has it, call ``on_wait`` with a message saying
        who, then wait for it (Ctrl-C interrupts the wait)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in the finally below
        acquired = False
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait(
                        f"waiting for {self.holder()} to finish writing to the state directory "
                        f"{self.path.parent} (one writer at a time)"
                    )
                fcntl.flock(fh, fcntl.LOCK_EX)
            acquired = True
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}: {self.what}\n")
            fh.flush()
            yield
        finally:
            if acquired:
                with contextlib.suppress(OSError):
                    fh.truncate(0)
                    fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


class WatchLockError(Exception):
    """Another ``kgitops watch`` holds the state directory (the message names its pid and the fix)."""


class Leadership(Protocol):
    """Whether this watcher may reconcile (sync and write status) now: the only one that may.

    ``StateLock`` (a local watch: one per state directory, a second one refuses to start) and
    ``reconciler.backends.k8s.lease.LeaseElector`` (replicas in a cluster: one leads, the others follow and
    take over) are the two; ``Jointly`` holds several at once."""

    def begin(self, on_change: Callable[[], None]) -> None:
        """Start (raise ``WatchLockError`` or ``BackendError`` when this watcher can never lead);
        ``on_change`` is called, from any thread, when ``leading()`` changes."""

    def leading(self) -> bool:
        """May this watcher reconcile now? Checked before every reconcile."""

    def end(self) -> None:
        """Stop, and give up what is held (on SIGTERM too)."""


class Jointly:
    """Several leaderships at once, leading while all of them lead (the state directory lock and a Lease)."""

    def __init__(self, *parts: Leadership) -> None:
        self.parts = parts

    def begin(self, on_change: Callable[[], None]) -> None:
        started: list[Leadership] = []
        try:
            for part in self.parts:
                part.begin(on_change)
                started.append(part)
        except BaseException:
            for part in reversed(started):
                part.end()
            raise

    def leading(self) -> bool:
        return all(part.leading() for part in self.parts)

    def end(self) -> None:
        for part in reversed(self.parts):
            part.end()


class StateLock:
    """An exclusive, non-blocking lock on the state dir: a second watcher refuses to start, never races.
    As a ``Leadership``, the holder always leads."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / WATCH_LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the watcher's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise WatchLockError(
                f"another kgitops watch (pid {holder}) is already running on the state directory "
                f"{self.path.parent}; stop it first, or use another --state-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def begin(self, on_change: Callable[[], None]) -> None:
        self.acquire()

    def leading(self) -> bool:
        return self._fh is not None

    def end(self) -> None:
        self.release()
