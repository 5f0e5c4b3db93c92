"""How ``serve`` drives the embedded engine: on the one writer thread, whose backend holds the engine.

A thread of its own submits the engine's steps to the writer thread and, when a step leaves nothing to do,
a rest there (``Backend.rest``) that ends at a process exit, a due deadline, ``rest_seconds``, or the next
write: a write queued behind the rest ends it first (``wake``, then ``Backend.wake``). Another process's
writes are seen when the rest ends, so ``rest_seconds`` bounds how late.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading

from reconciler.backends.base import Backend

log = logging.getLogger("kgitops.serve")


class WriterThreadDriver:
    """Drives ``backend`` (made on, and used only from, the single thread of ``pool``); ``rest_seconds``
    None: the backend's ``idle_pause`` of its ``poll_interval``."""

    def __init__(
        self, pool: concurrent.futures.ThreadPoolExecutor, backend: Backend, rest_seconds: float | None
    ) -> None:
        self._pool = pool
        self._backend = backend
        self._rest = backend.idle_pause(backend.poll_interval) if rest_seconds is None else rest_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by every write: the rest on the writer thread ends
        self._thread = threading.Thread(target=self._drive, name="kusciaapi-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _drive(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the step: a write after this ends the rest below, one before is seen
            try:
                more = self._pool.submit(lambda b: b.step(), self._backend).result()
                if not more:
                    self._pool.submit(lambda b: b.rest(self._rest, self._wake), self._backend).result()
            except Exception:  # keep serving; the next step retries
                log.exception("engine pass failed")
                self._stop.wait(self._rest)  # not at full speed while, say, the database stays locked

    def wake(self) -> None:
        """A write was queued on the writer thread: end the engine's rest there (any thread may call)."""
        self._wake.set()
        self._backend.wake()

    def stop(self, patience: float = 10.0) -> None:
        """End the loop and wait for it, ``patience`` seconds at most."""
        self._stop.set()
        self.wake()
        self._thread.join(patience)
