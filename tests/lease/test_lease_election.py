"""Leader election without a server: the decision as a pure function of (Lease, time unchanged, identity),
and the elector's state machine on an injected clock over an in-memory Lease store that keeps resourceVersion
as the API server does (a write with an old version is refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.backends.k8s.election import (
    Action,
    ElectionError,
    LeaseRecord,
    Timing,
    decide,
    format_micro_time,
    from_spec,
    released,
    to_spec,
)
from reconciler.backends.k8s.lease import LeaseElector, LostRace

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)


def test_no_lease_is_created_held_by_the_candidate() -> None:
    d = decide(None, 0.0, "a", TIMING, T0)
    assert d.action is Action.CREATE and d.holder == "a"
    assert d.record == LeaseRecord("a", 15, T0, T0, 0)


def test_a_lease_held_by_another_is_waited_for_until_it_expires_on_our_clock() -> None:
    theirs = LeaseRecord("b", 15, T0, T0, 3)
    d = decide(theirs, 14.0, "a", TIMING, T0 + timedelta(seconds=14))
    assert d.action is Action.WAIT and d.holder == "b" and d.record is None
    assert d.expires_in == pytest.approx(1.0)
    # expired: taken over, one more transition, acquired now
    later = T0 + timedelta(seconds=15)
    d = decide(theirs, 15.0, "a", TIMING, later)
    assert d.action is Action.ACQUIRE
    assert d.record == LeaseRecord("a", 15, later, later, 4)


def test_the_records_own_duration_counts_not_ours() -> None:
    theirs = LeaseRecord("b", 40, T0, T0, 0)
    assert decide(theirs, 20.0, "a", TIMING, T0).action is Action.WAIT


def test_a_released_lease_is_taken_at_once() -> None:
    mine = LeaseRecord("b", 15, T0, T0, 2)
    gone = released(mine, T0)
    assert gone == LeaseRecord("", 1, T0, T0, 2)
    d = decide(gone, 0.0, "a", TIMING, T0)
    assert d.action is Action.ACQUIRE and d.record is not None and d.record.lease_transitions == 3


def test_renewing_keeps_the_acquire_time_and_the_transitions() -> None:
    mine = LeaseRecord("a", 15, T0, T0, 5)
    later = T0 + timedelta(seconds=2)
    d = decide(mine, 100.0, "a", TIMING, later)
    assert d.action is Action.RENEW
    assert d.record == LeaseRecord("a", 15, T0, later, 5)


@pytest.mark.parametrize(
    ("timing", "says"),
    [
        (Timing(10, 10, 2), "longer than the renew deadline"),
        (Timing(15, 2, 2), "1.2 x the retry period"),
        (Timing(15, 10, 0), "more than 0"),
    ],
)
def test_durations_that_cannot_work_are_refused(timing: Timing, says: str) -> None:
    with pytest.raises(ElectionError, match=says):
        timing.check()


def test_the_spec_round_trips_in_micro_time() -> None:
    record = LeaseRecord("pod-1", 15, T0, T0 + timedelta(microseconds=5), 7)
    spec = to_spec(record)
    assert spec["acquireTime"] == "2026-11-29T12:00:00.000000Z"  # six digits even for whole seconds
    assert spec["renewTime"] == "2026-11-29T12:00:00.000005Z"
    assert from_spec(spec) == record
    assert "holderIdentity" not in to_spec(released(record, T0))
    assert from_spec({"renewTime": "garbage", "leaseTransitions": "x"}) == LeaseRecord()
    assert format_micro_time(T0.astimezone(tz=None)) == "2026-11-29T12:00:00.000000Z"


class MemoryLease:
    """One Lease as the API server keeps it: every write bumps resourceVersion; a stale one gets a 409."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.down = False
        self.writes: list[str] = []

    def describe(self) -> str:
        return "Lease/ns/test"

    def get(self) -> tuple[LeaseRecord, str] | None:
        if self.down:
            raise ConnectionError("the API server is down")
        return None if self.record is None else (self.record, str(self.version))

    def create(self, record: LeaseRecord) -> str:
        if self.down:
            raise ConnectionError("the API server is down")
        if self.record is not None:
            raise LostRace("already exists")
        return self._write(record)

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        if self.down:
            raise ConnectionError("the API server is down")
        if resource_version != str(self.version):
            raise LostRace("the object has been modified")
        return self._write(record)

    def _write(self, record: LeaseRecord) -> str:
        self.record = record
        self.version += 1
        self.writes.append(record.holder_identity)
        return str(self.version)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.now - 1000.0)


def elector(store: MemoryLease, identity: str, clock: Clock) -> LeaseElector:
    return LeaseElector(store, identity, TIMING, clock=clock, wall=clock.wall)


def test_one_leads_the_other_follows_and_takes_over_after_the_lease_duration() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert a.tick() and a.leading()
    assert not b.tick() and not b.leading() and b.following() == "a"
    for _ in range(10):  # a renews every retry period; b never gets it
        clock.now += 2
        assert a.tick()
        assert not b.tick()
    # a dies (no more renewals): b waits a whole lease duration from the last renewal it saw
    clock.now += 14
    assert not b.tick()
    clock.now += 1.5
    assert b.tick() and b.leading()
    assert store.record is not None and store.record.holder_identity == "b"
    assert store.record.lease_transitions == 1
    # a comes back: its lead is long gone and it follows
    assert not a.leading()
    assert not a.tick() and a.following() == "b"


def test_a_leader_that_cannot_renew_steps_down_before_anyone_may_take_over() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert a.tick()
    assert not b.tick()
    store.down = True  # a loses the API server; b still reaches it (a partition)
    clock.now += 9.9
    assert a.tick()  # the try fails, but the renew deadline has not passed: a still leads
    clock.now += 0.2  # 10.1 s since the last renewal: a stops leading on the clock alone, without a try
    assert not a.leading()
    store.down = False
    assert not b.tick()  # 10.1 s < 15 s: b may not take over yet, and a has already stopped
    clock.now += 5
    assert b.tick()
    assert store.writes == ["a", "b"]


def test_release_lets_the_follower_take_over_at_its_next_try() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    a.begin(lambda: None)
    assert not b.tick()
    a.end()  # SIGTERM
    assert not a.leading()
    assert store.record is not None and store.record.holder_identity == ""
    clock.now += 0.1  # far less than the lease duration
    assert b.tick() and store.record.holder_identity == "b"


def test_two_candidates_racing_for_an_expired_lease_one_wins_the_other_follows() -> None:
    store, clock = MemoryLease(), Clock()
    store.record, store.version = LeaseRecord("gone", 15, T0, T0, 0), 7
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert not a.tick() and not b.tick()  # both see it first now: they wait a lease duration
    clock.now += 16
    # both read version 7; a writes first; b's write with version 7 gets a 409
    got = store.get()
    assert got is not None
    real_get = store.get
    store.get = lambda: got  # type: ignore[method-assign] - b read before a's write landed
    assert a.tick()
    assert not b.tick()
    store.get = real_get  # type: ignore[method-assign]
    assert a.leading() and not b.leading()
    assert store.writes == ["a"]
    assert not b.tick() and b.following() == "a"
