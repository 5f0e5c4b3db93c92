"""Leader election on a ``coordination.k8s.io/v1`` Lease: the decision, as a pure function of the Lease as
read, how long ago this candidate saw it change, and who asks.

The rules are client-go's ``tools/leaderelection`` (``LeaderElector.tryAcquireOrRenew`` and ``release``),
which controller-runtime's manager uses:

* no Lease: create it, holding it (``leaseTransitions`` 0);
* held by someone else and not expired: wait. Expiry is judged on the candidate's own clock, from when it
  last saw the record change (client-go's ``observedTime``), over the record's ``leaseDurationSeconds``; so
  clock skew between replicas does not matter, and a candidate that has just started waits a whole lease
  duration;
* held by us: renew (``renewTime`` now; ``acquireTime`` and ``leaseTransitions`` kept);
* expired, or released (empty ``holderIdentity``): take it over (``acquireTime`` now,
  ``leaseTransitions`` + 1).

Every write carries the ``resourceVersion`` read, so of two candidates racing for an expired Lease one gets
409 Conflict and keeps following. Release (client-go's ``ReleaseOnCancel``) writes an empty
``holderIdentity`` and ``leaseDurationSeconds: 1``, so another candidate takes over at its next try instead
of after the lease duration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

JITTER_FACTOR = 1.2  # client-go's JitterFactor: a candidate retries every retry_period * [1, 1.2)


class ElectionError(ValueError):
    """Durations that cannot work together (client-go's ``NewLeaderElector`` checks)."""


@dataclass(frozen=True)
class Timing:
    """Seconds. Defaults are controller-runtime's: ``LeaseDuration`` 15, ``RenewDeadline`` 10, ``RetryPeriod``
    2. A leader that has not renewed for ``renew_deadline`` stops leading; a follower takes over a Lease not
    renewed for ``lease_duration``; everyone tries every ``retry_period``."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def check(self) -> None:
        """Raise ``ElectionError`` unless lease_duration > renew_deadline > 1.2 * retry_period > 0 (client-go:
        otherwise a leader could lose the Lease before it notices, or never manage to renew in time)."""
        if self.retry_period <= 0:
            raise ElectionError(f"the retry period must be more than 0 s, not {self.retry_period:g}")
        if self.lease_duration <= self.renew_deadline:
            raise ElectionError(
                f"the lease duration ({self.lease_duration:g} s) must be longer than the renew deadline "
                f"({self.renew_deadline:g} s): a leader must stop leading before anyone else may take over"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ElectionError(
                f"the renew deadline ({self.renew_deadline:g} s) must be longer than {JITTER_FACTOR:g} x the "
                f"retry period ({self.retry_period:g} s): a leader must get to try renewing before it"
            )

    @property
    def lease_seconds(self) -> int:
        """``spec.leaseDurationSeconds`` is whole seconds (at least 1)."""
        return max(1, round(self.lease_duration))


@dataclass(frozen=True)
class LeaseRecord:
    """The ``spec`` of a Lease (``coordination.k8s.io/v1`` ``LeaseSpec``); times are UTC."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: int = 0


class Action(Enum):
    CREATE = "create"  # no Lease yet: create it, held by us
    ACQUIRE = "acquire"  # expired or released: take it over
    RENEW = "renew"  # ours: renew it
    WAIT = "wait"  # someone else's and not expired


@dataclass(frozen=True)
class Decision:
    """``record``: what to write (None for WAIT); ``holder``: who holds the Lease after the write (for WAIT:
    the current holder); ``expires_in``: for WAIT, seconds until it may be taken over."""

    action: Action
    record: LeaseRecord | None
    holder: str
    expires_in: float = 0.0


def decide(
    current: LeaseRecord | None, unchanged_for: float, identity: str, timing: Timing, now: datetime
) -> Decision:
    """What ``identity`` does with the Lease ``current`` (None: there is none), which it has seen unchanged
    for ``unchanged_for`` seconds on its own clock, at wall time ``now`` (written into the record)."""
    seconds = timing.lease_seconds
    if current is None:
        mine = LeaseRecord(identity, seconds, now, now, 0)
        return Decision(Action.CREATE, mine, identity)
    holder = current.holder_identity
    duration = current.lease_duration_seconds or seconds
    if holder and holder != identity and unchanged_for < duration:
        return Decision(Action.WAIT, None, holder, duration - unchanged_for)
    if holder == identity:
        renewed = replace(
            current, lease_duration_seconds=seconds, renew_time=now, acquire_time=current.acquire_time or now
        )
        return Decision(Action.RENEW, renewed, identity)
    taken = LeaseRecord(identity, seconds, now, now, current.lease_transitions + 1)
    return Decision(Action.ACQUIRE, taken, identity)


def released(current: LeaseRecord, now: datetime) -> LeaseRecord:
    """The record a leader writes when it stops (client-go's ``release``): nobody holds it; it lasts 1 s."""
    return LeaseRecord("", 1, now, now, current.lease_transitions)


# -- the wire format of LeaseSpec ---------------------------------------------------------------------------


def format_micro_time(value: datetime) -> str:
    """Kubernetes' ``MicroTime`` (RFC 3339 with microseconds, UTC): ``2026-11-29T12:00:00.000000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def to_spec(record: LeaseRecord) -> dict[str, object]:
    """The Lease's ``spec`` as the API server takes it (an empty ``holderIdentity`` is left out, as in
    client-go)."""
    spec: dict[str, object] = {
        "leaseDurationSeconds": record.lease_duration_seconds,
        "leaseTransitions": record.lease_transitions,
    }
    if record.holder_identity:
        spec["holderIdentity"] = record.holder_identity
    if record.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = format_micro_time(record.renew_time)
    return spec


def from_spec(spec: dict[str, object] | None) -> LeaseRecord:
    """A ``LeaseRecord`` from a Lease's ``spec`` (missing or malformed fields read as unset)."""
    spec = spec or {}

    def number(key: str) -> int:
        value = spec.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return LeaseRecord(
        holder_identity=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=number("leaseDurationSeconds"),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        lease_transitions=number("leaseTransitions"),
    )
