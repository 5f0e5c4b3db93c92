"""Turn a burst of file events (an editor's save is often five or more) into one call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Debouncer:
    """Calls ``action`` once the events have been quiet for ``quiet`` seconds, or ``max_delay`` seconds after
    the first event of a burst at the latest, so a file rewritten in a tight loop still reconciles."""

    def __init__(self, action: Callable[[], None], quiet: float = 0.15, max_delay: float = 1.0) -> None:
        self._action = action
        self._quiet = quiet
        self._max_delay = max_delay
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kgitops-debounce", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                while self._first is not None and not self._closed:
                    now = time.monotonic()
                    due = min(self._last + self._quiet, self._first + self._max_delay)
                    if now >= due:
                        break
                    self._cond.wait(due - now)
                if self._closed:
                    return
                self._first = None
            self._action()
