"""``kgitops status``: one row per managed object (sync state, live phase, revision, age), from a plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
    kind: str
    namespace: str
    name: str
    sync: str
    phase: str
    revision: str
    age: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _age(created: str, now: datetime) -> str:
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    secs = int((now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{max(secs, 0)}s"


def overview_rows(plan: Plan, now: datetime) -> list[Row]:
    rows = []
    for e in plan.entries:
        state = _SYNC.get(e.action)
        if state is None:
            continue
        if (e.action == Action.CREATE and not e.drift) or e.adopt:
            continue  # not created yet: not a managed object (diff shows it)
        live = e.live
        phase = str(live.status.get("phase") or "") if live is not None else "Missing"
        revision = live.annotations.get(own.REVISION, "")[:12] if live is not None else ""
        age = _age(live.creation_timestamp, now) if live is not None and live.creation_timestamp else "-"
        reason = e.blocked or e.reason if state != SyncState.SYNCED else ""
        rows.append(
            Row(e.ref.kind, e.ref.namespace, e.ref.name, state, phase or "-", revision or "-", age, reason)
        )
    return rows


def render_rows(rows: list[Row]) -> str:
    if not rows:
        return "no managed objects\n"
    headers = ("KIND", "NAMESPACE", "NAME", "SYNC", "PHASE", "REVISION", "AGE", "REASON")
    table = [headers] + [
        (r.kind, r.namespace or "-", r.name, r.sync, r.phase, r.revision, r.age, r.reason) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
