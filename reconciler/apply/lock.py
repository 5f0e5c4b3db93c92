"""One writer at a time per state directory.

``kgitops sync`` and every reconcile of ``kgitops watch`` hold this lock from reading the live state and the
inventory to writing status back. Without it two writers plan from the same inventory and each replaces the
other's entries, both create the same jobs (one then reports a healthy job "Failed: already exists"), and
the status branch is moved back to an older snapshot. A second writer waits for the first and says so.

The lock is ``flock(2)`` on ``<state dir>/writer.lock``: released by the kernel when its holder dies, even by
kill -9, so a crash never leaves it stuck. The file holds the holder's pid and command, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = "writer.lock"


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
