"""Pruning a job the way Kuscia can act on: stop it first, delete it once it is final or a grace period ends.

Kuscia's controller tears a job's tasks down when it sees the Stop stage label (``kuscia.secretflow/job-stage:
Stop``, kuscia-semantics.md §5); a job deleted in the same instant never gets there. So a pruned job that is
not in a final phase (Succeeded, Failed, ApprovalReject, Cancelled: ``model.phases.FINAL_JOB_PHASES``) is
stopped and annotated with the time (``kgitops.io/prune-stopped-at``, so the wait survives a restart), and
reported ``stopping``; a later sync or watch pass deletes it once it is final, or once ``grace_period``
seconds have passed since the stop. No sync waits for it.

Where the backend ends a deleted job's tasks itself (``Capabilities.delete_ends_tasks``: the embedded engine),
or with a grace period of 0, the job is stopped and deleted at once, as before.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from reconciler.backends.base import Backend, NotFound, PhaseError
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.model.objects import KUSCIA_JOB
from reconciler.model.phases import JobPhase
from reconciler.plan import ownership as own


class PruneStep(StrEnum):
    STOPPING = "stopping"  # stopped (now or earlier); still there
    DELETED = "deleted"


@dataclass(frozen=True)
class PruneResult:
    step: PruneStep
    message: str
    live: Resource | None = None  # the object after a stop (None once deleted)


def stamp(now: datetime, round_up: bool = False) -> str:
    """RFC 3339 UTC with whole seconds, as Kubernetes writes times (``2026-11-29T12:00:00Z``); ``round_up``:
    to the next second, so that a grace period measured from it is never cut short."""
    if round_up and now.microsecond:
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def stop_and_delete(backend: Backend, ref: ObjectRef, live: Resource | None, reason: str) -> None:
    """A job not yet final is stopped, then deleted at once (re-create, a zero grace period, the embedded
    engine); an object already gone counts as deleted."""
    if ref.kind == KUSCIA_JOB and live is not None and not _phase(live).is_final:
        with contextlib.suppress(PhaseError, NotFound):
            backend.stage(ref, Stage.STOP, reason=reason)
    with contextlib.suppress(NotFound):
        backend.delete(ref)


def prune(
    backend: Backend, ref: ObjectRef, live: Resource | None, grace_period: float, now: datetime
) -> PruneResult:
    """One step of pruning ``ref`` (``live``: the object as the plan saw it), at time ``now``.

    ``grace_period``: seconds between the stop and a delete of a job that has not ended (0: at once).
    Returns what was done; BackendError from the backend propagates (sync records it as failed)."""
    reason = "pruned by kgitops: no longer in the source"
    if ref.kind != KUSCIA_JOB or live is None or grace_period <= 0 or backend.capabilities.delete_ends_tasks:
        stop_and_delete(backend, ref, live, reason)
        return PruneResult(PruneStep.DELETED, "")
    phase = _phase(live)
    if phase.is_final:
        _delete(backend, ref)
        return PruneResult(PruneStep.DELETED, f"deleted: the job was {phase}")
    stopped_at = parse_stamp(live.annotations.get(own.STOPPED_AT, ""))
    if stopped_at is None:
        try:
            backend.stage(ref, Stage.STOP, reason=reason)
        except PhaseError:  # Kuscia will not stop it in this phase: nothing to wait for
            _delete(backend, ref)
            return PruneResult(PruneStep.DELETED, f"deleted: Kuscia does not stop a {phase} job")
        except NotFound:
            return PruneResult(PruneStep.DELETED, "deleted: it was already gone")
        stopped = backend.update_metadata(ref, annotations={own.STOPPED_AT: stamp(now, round_up=True)})
        return PruneResult(
            PruneStep.STOPPING,
            f"stop issued to the {phase} job; deleted once it ends, or after {grace_period:g}s by a later "
            "sync",
            stopped,
        )
    waited = (now - stopped_at).total_seconds()
    if waited >= grace_period:
        _delete(backend, ref)
        return PruneResult(
            PruneStep.DELETED,
            f"deleted: still {phase} {waited:.0f}s after its stop (grace period {grace_period:g}s)",
        )
    left = grace_period - waited
    return PruneResult(
        PruneStep.STOPPING,
        f"stopping since {stamp(stopped_at)} ({phase}); deleted once it ends, or in {left:.0f}s",
        live,
    )


def _phase(live: Resource) -> JobPhase:
    return JobPhase.parse(str(live.status.get("phase") or ""))


def _delete(backend: Backend, ref: ObjectRef) -> None:
    with contextlib.suppress(NotFound):
        backend.delete(ref)
