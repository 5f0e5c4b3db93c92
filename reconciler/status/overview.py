"""``kgitops status``: one row per managed object (sync state, live phase, revision, age), from a plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.plan import ownership as own
from reconciler.plan.model import Action, Plan
from reconciler.status.record import SyncState

_SYNC = {
    Action.UNCHANGED: SyncState.SYNCED,
    Action.CREATE: SyncState.OUT_OF_SYNC,
    Action.CHANGED: SyncState.OUT_OF_SYNC,
    Action.PRUNE: SyncState.OUT_OF_SYNC,
    Action.HELD: SyncState.HELD,
}


@dataclass(frozen=True)
class Row:
    """One managed object. ``phase``, ``revision`` and ``reason`` are "" when there is none; ``created`` is
    the live object's creation time (ISO 8601, "" when it does not exist); ``age_seconds`` is measured from
    it to ``now`` (None when it does not exist)."""

    kind: str
    namespace: str
    name: str
    sync: str
    phase: str
    revision: str
    created: str
    age_seconds: int | None
    reason: str

    def to_dict(self) -> dict[str, str | int | None]:
        """The JSON form: camelCase keys, real values (``ageSeconds`` an integer or null)."""
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "sync": self.sync,
            "phase": self.phase,
            "revision": self.revision,
            "created": self.created,
            "ageSeconds": self.age_seconds,
            "reason": self.reason,
        }


def _created(stamp: str, now: datetime) -> tuple[str, int | None]:
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "", None
    return then.isoformat().replace("+00:00", "Z"), max(int((now - then).total_seconds()), 0)


def overview_rows(plan: Plan, now: datetime) -> list[Row]:
    rows = []
    for e in plan.entries:
        state = _SYNC.get(e.action)
        if state is None:
            continue
        if e.action == Action.PRUNE and e.live is not None and e.live.annotations.get(own.STOPPED_AT):
            state = SyncState.STOPPING
        if (e.action == Action.CREATE and not e.drift) or e.adopt:
            continue  # not created yet: not a managed object (diff shows it)
        live = e.live
        phase = str(live.status.get("phase") or "") if live is not None else "Missing"
        revision = live.annotations.get(own.REVISION, "")[:12] if live is not None else ""
        created, age = _created(live.creation_timestamp, now) if live is not None else ("", None)
        reason = e.blocked or e.reason if state != SyncState.SYNCED else ""
        rows.append(
            Row(e.ref.kind, e.ref.namespace, e.ref.name, state, phase, revision, created, age, reason)
        )
    return rows
