"""The event-driven engine's work queue: exits before follow-ups before the backlog, each object once, the
earliest deadline per object (pure: the clock is a number passed in)."""

from __future__ import annotations

from reconciler.engine.workqueue import Urgency, WorkQueue


def test_most_urgent_first_each_object_once_in_arrival_order() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_all(["j1", "j2", "j3"], Urgency.BACKLOG)
    q.add("t1", Urgency.FOLLOW_UP)
    q.add("j2", Urgency.EXIT)  # moves up
    q.add("j2", Urgency.BACKLOG)  # already more urgent: stays
    q.add("t1", Urgency.FOLLOW_UP)  # queued once
    assert len(q) == 4
    assert q.take(2) == ["j2", "t1"]
    assert q.take(10) == ["j1", "j3"]
    assert len(q) == 0 and q.take(5) == []


def test_deadlines_earliest_per_object_and_consumed_when_due() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.after("t1", 10.0)
    q.after("t1", 4.0)  # earlier: replaces
    q.after("t1", 8.0)  # later: ignored
    q.after("t2", 6.0)
    assert q.next_deadline() == 4.0
    assert q.due(3.9) == []
    assert q.due(6.0) == ["t1", "t2"]
    assert q.due(100.0) == [] and q.next_deadline() is None  # the replaced 10.0 is gone too
    assert len(q) == 0  # deadlines are not work until the caller queues what is due
