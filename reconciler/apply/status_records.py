"""From the outcome of a sync to the status record of every managed object (what ``reconciler.status`` writes
back). Here, with the sync it reads, so that the status package never imports apply."""

from __future__ import annotations

from typing import Any

from reconciler.apply.sync import Applied, Outcome, SyncResult
from reconciler.model import ObjectRef, Resource
from reconciler.plan import ownership as own
from reconciler.plan.model import PlanEntry
from reconciler.status.record import StatusRecord, SyncState, live_summary

# (uid, resourceVersion) -> live_summary: a live object that did not change since the last sync (the live
# cache hands over the same objects) is not summarised again; only objects that carry both are remembered
_SUMMARIES: dict[tuple[str, str], dict[str, Any]] = {}
_SUMMARIES_LIMIT = 200_000

_STATE = {
    Outcome.CREATED: SyncState.SYNCED,
    Outcome.UPDATED: SyncState.SYNCED,
    Outcome.RECREATED: SyncState.SYNCED,
    Outcome.ADOPTED: SyncState.SYNCED,
    Outcome.UNCHANGED: SyncState.SYNCED,
    Outcome.OUT_OF_SYNC: SyncState.OUT_OF_SYNC,
    Outcome.HELD: SyncState.HELD,
    Outcome.FAILED: SyncState.FAILED,
    Outcome.STOPPING: SyncState.STOPPING,
}


# ref -> (entry, live, what else the record is made of, record): an entry that comes back from the differ's
# memo as the same object, with the same live object and outcome, has the same record. A watch of 10,000 jobs
# would make every one again after each commit, twice (status write-back, metrics).
_RECORDS: dict[ObjectRef, tuple[PlanEntry, Resource | None, tuple[str, ...], StatusRecord | None]] = {}


def record_of(applied: Applied, revision: str) -> StatusRecord | None:
    """The status record of one applied entry (None: pruned or not ours); the same (frozen) record as the
    last call's when nothing it is made of changed."""
    entry = applied.entry
    live = applied.live if applied.live is not None else entry.live
    version = live.resource_version if live is not None else ""
    # the record's revision is the one the live object was applied at; the sync's only when it has none
    uses = "" if live is not None and live.annotations.get(own.REVISION) else revision
    key = (version, applied.outcome, applied.message, entry.reason, entry.blocked, uses)
    known = _RECORDS.get(entry.ref)
    if known is not None and known[0] is entry and known[1] is live and known[2] == key:
        return known[3]
    if len(_RECORDS) >= _SUMMARIES_LIMIT:
        _RECORDS.clear()
    record = _record_of(applied, revision)
    _RECORDS[entry.ref] = (entry, live, key, record)
    return record


def _record_of(applied: Applied, revision: str) -> StatusRecord | None:
    state = _STATE.get(applied.outcome)
    if state is None:  # pruned or not ours: no status file
        return None
    entry = applied.entry
    live = applied.live if applied.live is not None else entry.live
    applied_revision = live.annotations.get(own.REVISION, "") if live is not None else ""
    if state == SyncState.SYNCED:
        applied_revision = applied_revision or revision
    reason = "" if state == SyncState.SYNCED else entry.reason
    message = "" if state == SyncState.SYNCED else (applied.message or entry.blocked)
    return StatusRecord(
        ref=entry.ref,
        sync_state=state,
        revision=applied_revision or revision,
        source_path=entry.path,
        reason=reason,
        message=message,
        live=_summary(live),
    )


def _summary(live: Resource | None) -> dict[str, Any]:
    if live is None or not live.uid or not live.resource_version:
        return live_summary(live)
    key = (live.uid, live.resource_version)
    known = _SUMMARIES.get(key)
    if known is None:
        if len(_SUMMARIES) >= _SUMMARIES_LIMIT:
            _SUMMARIES.clear()
        known = _SUMMARIES[key] = live_summary(live)
    return known


def records_of(result: SyncResult) -> list[StatusRecord]:
    out = []
    for applied in result.applied:
        rec = record_of(applied, result.plan.revision)
        if rec is not None:
            out.append(rec)
    return out
