"""What the event-driven engine still has to reconcile, and when: a work queue with three urgencies and a heap
of deadlines, like a Kubernetes controller's rate-limited work queue (client-go ``workqueue``), without the
threads.

Pure: no clock and no store. The caller passes ``now`` (seconds on a monotonic clock) and decides what an
object is; an object waits in the queue at most once, at the most urgent level it was added with.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Urgency(IntEnum):
    """Taken in this order: what a process exit or a due deadline concerns, then what a write just touched
    (the follow-up of the work being done, so one object moves along without waiting behind all others), then
    the backlog (everything the engine found when it started)."""

    EXIT = 0
    FOLLOW_UP = 1
    BACKLOG = 2


@dataclass
class WorkQueue(Generic[K]):
    """Objects (any hashable key) to reconcile, each at most once, most urgent first, in order of arrival
    within a level; and per object at most one deadline (the earliest asked for)."""

    _levels: tuple[OrderedDict[K, None], ...] = field(
        default_factory=lambda: tuple(OrderedDict() for _ in Urgency)
    )
    _level_of: dict[K, Urgency] = field(default_factory=dict)
    _due: dict[K, float] = field(default_factory=dict)
    _heap: list[tuple[float, int, K]] = field(default_factory=list)
    _tie: int = 0

    def __len__(self) -> int:
        """How many objects are ready to be taken (deadlines not yet due do not count)."""
        return len(self._level_of)

    def add(self, key: K, urgency: Urgency) -> None:
        """Queue ``key``; if it waits already at a less urgent level, it moves up (to that level's end)."""
        current = self._level_of.get(key)
        if current is not None and current <= urgency:
            return
        if current is not None:
            del self._levels[current][key]
        self._levels[urgency][key] = None
        self._level_of[key] = urgency

    def add_all(self, keys: Iterable[K], urgency: Urgency) -> None:
        for key in keys:
            self.add(key, urgency)

    def take(self, limit: int) -> list[K]:
        """Up to ``limit`` objects, most urgent first; they leave the queue."""
        out: list[K] = []
        for level in self._levels:
            while level and len(out) < limit:
                key, _ = level.popitem(last=False)
                del self._level_of[key]
                out.append(key)
        return out

    def after(self, key: K, when: float) -> None:
        """Look at ``key`` again at ``when`` (the earlier of this and a deadline it already has)."""
        current = self._due.get(key)
        if current is not None and current <= when:
            return
        self._due[key] = when
        self._tie += 1
        heapq.heappush(self._heap, (when, self._tie, key))

    def due(self, now: float) -> list[K]:
        """The objects whose deadline has come (their deadline is consumed), earliest first."""
        out: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == when:  # else a stale entry: an earlier deadline replaced it
                del self._due[key]
                out.append(key)
        return out

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, or None."""
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
