"""Which thread uses which backend, for ``serve``: backends may hold thread-bound handles (e.g. SQLite), so
each is opened and used on one thread only.

One writer thread runs every write, with a backend of its own, and the embedded engine's passes
(``serve/driving.py``); a few reader threads run the reads, each with a backend opened on its first read, so
reads never queue behind a write or an engine pass.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from reconciler.backends.base import Backend
from reconciler.serve.driving import WriterThreadDriver

T = TypeVar("T")
log = logging.getLogger("kgitops.serve")


class BackendThreads:
    """Backends made by ``backend_factory``: one on the writer thread (made at once), one on each of
    ``readers`` reader threads (made on its first read). ``rest_seconds``: the embedded engine's longest rest
    between two steps when nothing happens (``WriterThreadDriver``; None: the backend's ``idle_pause`` of its
    ``poll_interval``)."""

    def __init__(
        self, backend_factory: Callable[[], Backend], readers: int = 4, rest_seconds: float | None = None
    ) -> None:
        self._factory = backend_factory
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kusciaapi-backend"
        )
        self._backend: Backend = self._pool.submit(backend_factory).result()
        self._local = threading.local()
        self._opened: list[Backend] = []
        self._opened_lock = threading.Lock()
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, readers), thread_name_prefix="kusciaapi-reader"
        )
        self._driver: WriterThreadDriver | None = None
        if self._backend.capabilities.engine_in_process:
            # The embedded engine runs its controllers in whichever process drives it: serving, that is us.
            self._driver = WriterThreadDriver(self._pool, self._backend, rest_seconds)
            self._driver.start()

    def run(self, fn: Callable[[Backend], T]) -> T:
        """``fn`` on the writer thread, with its backend; the engine's rest there ends first."""
        future = self._pool.submit(fn, self._backend)
        if self._driver is not None:
            self._driver.wake()
        return future.result()

    def read(self, fn: Callable[[Backend], T]) -> T:
        """``fn`` on a reader thread, with that thread's backend (opened on first use)."""
        return self._readers.submit(self._on_reader, fn).result()

    def _on_reader(self, fn: Callable[[Backend], T]) -> T:
        backend: Backend | None = getattr(self._local, "backend", None)
        if backend is None:
            backend = self._local.backend = self._factory()
            with self._opened_lock:
                self._opened.append(backend)
        return fn(backend)

    def close(self) -> None:
        """Stop driving the engine, then close every backend on its own thread and end the threads."""
        if self._driver is not None:
            self._driver.stop()
        self._readers.shutdown(wait=True)
        with self._opened_lock:
            for backend in self._opened:
                try:
                    backend.close()
                except Exception:  # closing: the others still close
                    log.exception("closing a reader backend failed")
        try:
            self.run(lambda b: b.close())
        finally:
            self._pool.shutdown(wait=True)
