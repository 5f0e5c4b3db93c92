"""How the engine's driver sleeps between two steps, and how it is woken early.

The driver selects on a pipe of its own (the self-pipe trick) and on the runtime's descriptor (its pidfds,
readable when a process exits); any other thread of the process, or a signal handler, ends the sleep by
writing a byte to the pipe. The pipe and the selector are made on the first sleep, on the driving thread; a
wake-up that comes before that ends the first sleep at once.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from collections.abc import Callable


class _Waker:
    """A pipe the waiting driver selects on; other threads of the process write a byte to it."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def poke(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            os.write(self.write_fd, b"\0")

    def drain(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


class Wakeup:
    """The driver's sleep (``sleep``), ended early by ``wake`` from any thread or a signal handler."""

    def __init__(self) -> None:
        self._waker: _Waker | None = None
        self._lock = threading.RLock()  # reentrant: ``wake`` runs in signal handlers too
        self._woken = False  # a ``wake`` came before the waker existed: the next ``sleep`` returns at once
        self._selector: selectors.BaseSelector | None = None

    def sleep(self, seconds: float, fileno: Callable[[], int | None]) -> None:
        """Sleep ``seconds`` at most: until a ``wake``, or until the descriptor ``fileno()`` (asked once, on
        the first sleep; None: none) is readable."""
        if self._selector is None:
            waker = _Waker()
            with self._lock:
                self._waker = waker
            self._selector = selectors.DefaultSelector()
            self._selector.register(waker.read_fd, selectors.EVENT_READ)
            fd = fileno()
            if fd is not None:
                self._selector.register(fd, selectors.EVENT_READ)
            if self._woken:
                self._woken = False
                return
        self._selector.select(seconds)
        assert self._waker is not None
        self._waker.drain()

    def wake(self) -> None:
        """End a ``sleep`` early, or the next one if none is under way."""
        with self._lock:
            if self._waker is None:
                self._woken = True
            else:
                self._waker.poke()

    def close(self) -> None:
        """Release the pipe and the selector (not the descriptor of ``fileno``: its owner closes it)."""
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        with self._lock:
            waker, self._waker = self._waker, None
        if waker is not None:
            waker.close()
