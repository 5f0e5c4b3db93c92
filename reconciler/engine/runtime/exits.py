"""How the process runtime learns that a pod's leader exited: announced, not polled.

A pidfd (``pidfd_open(2)``, Linux 5.3) per live pod leader, all in one epoll set whose own descriptor is what
the driver waits on (``Runtime.fileno``). It works for adopted processes too. A pod no pidfd covers (out of
descriptors, a kernel without pidfds) is looked at every ``UNWATCHED_POLL`` seconds instead.
"""

from __future__ import annotations

import os
import select
import time

from reconciler.engine.runtime import procfs

UNWATCHED_POLL = 0.1  # seconds between looks at a pod whose exit no pidfd announces (e.g. out of descriptors)


class ExitWatch:
    """The pidfds of the pod leaders being watched, keyed by the task uid they belong to."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._pidfds: dict[int, tuple[int, str]] = {}  # pidfd -> (pid, task uid)
        self._watched: set[int] = set()  # pids with a pidfd
        self._unwatched: dict[str, float] = {}  # task uid -> next look (monotonic): pods no pidfd covers
        self._news: set[str] = set()

    def watch(self, pid: int, start_ticks: int, task_uid: str, own_child: bool) -> None:
        """Have the exit of pod leader ``pid`` announced by ``take``, from now on. ``start_ticks`` (from
        /proc) tells a recycled pid; not checked for ``own_child``, a child of this process."""
        if pid <= 0 or pid in self._watched:
            return
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            self._news.add(task_uid)
            return
        except OSError:  # out of descriptors, or a kernel without pidfds: look now and then instead
            self._unwatched.setdefault(task_uid, time.monotonic() + UNWATCHED_POLL)
            return
        if not own_child and not procfs.alive(pid, start_ticks):
            os.close(fd)  # the pid was recycled: that is not our process
            self._news.add(task_uid)
            return
        self._epoll.register(fd, select.EPOLLIN)
        self._pidfds[fd] = (pid, task_uid)
        self._watched.add(pid)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def take(self) -> tuple[set[str], list[int]]:
        """The uids of the tasks a pod of which exited (or is due a look) since the last call, and the pids
        that exited (to reap, if they are children of this process)."""
        out, self._news = self._news, set()
        exited = []
        for fd, _ in self._epoll.poll(0):
            pid, uid = self._pidfds.pop(fd)
            self._epoll.unregister(fd)
            os.close(fd)
            self._watched.discard(pid)
            exited.append(pid)
            out.add(uid)
        if self._unwatched:
            now = time.monotonic()
            for uid, due in self._unwatched.items():
                if due <= now:
                    out.add(uid)
                    self._unwatched[uid] = now + UNWATCHED_POLL
        return out, exited

    def next_check(self) -> float | None:
        """When the next look at an unwatched pod is due (monotonic seconds), or None."""
        return min(self._unwatched.values(), default=None)

    def settled(self, task_uid: str) -> None:
        """The task has no live pod left: no more looks for it."""
        self._unwatched.pop(task_uid, None)

    def close(self) -> None:
        for fd in self._pidfds:
            os.close(fd)
        self._pidfds.clear()
        self._watched.clear()
        self._epoll.close()
