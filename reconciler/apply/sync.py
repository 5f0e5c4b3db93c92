"""Carry a plan out against a backend: create, update, adopt, re-create, prune, keeping the inventory.

Each create records its object in the source's inventory in the same step (one transaction on the embedded
engine), each prune removes it; the inventory is only ever edited entry by entry, never replaced, so a crash
mid-sync or a concurrent writer cannot orphan or forget an object.

Everything risky was decided in the plan (``reconciler.plan.diff``); here an entry with ``blocked`` set is
only reported. One object failing never stops the others: its error is recorded and the next one is
applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from reconciler.apply.prune import PruneStep, prune, stop_and_delete
from reconciler.backends.base import AlreadyExists, Backend, BackendError
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK, plain_copy
from reconciler.plan import ownership as own
from reconciler.plan.model import Action, DesiredState, Plan, PlanEntry


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RECREATED = "recreated"
    ADOPTED = "adopted"
    PRUNED = "pruned"
    STOPPING = "stopping"  # a pruned job was stopped; a later sync deletes it (reconciler.apply.prune)
    UNCHANGED = "unchanged"
    OUT_OF_SYNC = "out-of-sync"  # blocked: reported, not applied
    HELD = "held"
    UNMANAGED = "unmanaged"
    CONFLICT = "conflict"  # the live copy is another source's: not touched, the sync is not clean
    FAILED = "failed"


@dataclass
class Applied:
    entry: PlanEntry
    outcome: Outcome
    message: str = ""
    live: Resource | None = None  # the object as the backend returned it after the step

    @property
    def ref(self) -> ObjectRef:
        return self.entry.ref


@dataclass
class SyncResult:
    plan: Plan
    applied: list[Applied] = field(default_factory=list)
    inventory: set[ObjectRef] = field(default_factory=set)  # of the refs applied (a partial plan: its own)
    dry_run: bool = False
    approvals: Any = None  # reconciler.approvals.step.ApprovalsReport when the source is Git
    unchanged_elided: int = 0  # unchanged entries the plan left out (``Plan.unchanged_elided``): not applied

    def count(self, outcome: Outcome) -> int:
        return sum(1 for a in self.applied if a.outcome == outcome)

    @property
    def failed(self) -> list[Applied]:
        return [a for a in self.applied if a.outcome == Outcome.FAILED]


# Create AppImages before the jobs that use them; prune jobs before the AppImages they use.
_CREATE_ORDER = {APP_IMAGE: 0, KUSCIA_TASK: 1, KUSCIA_JOB: 2}


def sync(
    backend: Backend,
    plan: Plan,
    desired: DesiredState,
    inventory: set[ObjectRef],
    dry_run: bool = False,
    on_step: Callable[[Applied], None] | None = None,
    prune_grace_period: float = 0.0,
    now: datetime | None = None,
) -> SyncResult:
    """Carry ``plan`` out. ``prune_grace_period`` (seconds): how long a pruned running job has after its stop
    before it is deleted anyway (0: stop and delete at once; ``reconciler.apply.prune``); ``now``: the time
    that is measured against (default: the clock).

    A plan of differences only (``Plan.unchanged_elided`` > 0, ``Reconciler.sync_differences``) changes
    the inventory only for its entries' refs: the caller has made sure that the refs left out are inventoried
    exactly when a full plan's unchanged entries would keep them."""
    result = SyncResult(plan, dry_run=dry_run, unchanged_elided=plan.unchanged_elided)
    if plan.unchanged_elided:
        inventory = inventory & {e.ref for e in plan.entries}
    when = now or datetime.now(UTC)
    new_inventory: set[ObjectRef] = set()
    source_id = desired.source_id
    entries = sorted(plan.entries, key=_apply_order)
    for entry in entries:
        applied = _apply_one(backend, entry, desired, dry_run, prune_grace_period, when)
        result.applied.append(applied)
        if on_step is not None:
            on_step(applied)
        if _keeps_inventory(applied, entry.ref in inventory):
            new_inventory.add(entry.ref)
    result.inventory = new_inventory
    if not dry_run:
        # Only what this sync decided changes; entries another writer added meanwhile stay.
        backend.update_inventory(source_id, add=new_inventory - inventory, remove=inventory - new_inventory)
    return result


def _apply_order(e: PlanEntry) -> tuple[bool, int, str, str, str]:
    """Creates and updates first (AppImages, tasks, jobs), then prunes (jobs, tasks, AppImages); by ref
    within a kind. The ref's fields rather than the ref: comparing plain tuples of strings is what makes
    sorting 10,000 entries cheap (``ObjectRef``'s generated ordering compares the same fields)."""
    ref = e.ref
    order = _CREATE_ORDER.get(ref.kind, 1)
    if e.action == Action.PRUNE:
        return True, -order, ref.kind, ref.namespace, ref.name
    return False, order, ref.kind, ref.namespace, ref.name


def _keeps_inventory(a: Applied, was_inventoried: bool) -> bool:
    e = a.entry
    if a.outcome in (Outcome.CREATED, Outcome.RECREATED, Outcome.ADOPTED, Outcome.UPDATED):
        return True
    if a.outcome == Outcome.PRUNED or e.action in (Action.UNMANAGED, Action.CONFLICT):
        return False
    if a.outcome == Outcome.UNCHANGED:
        return True  # unchanged and not adopted: it already carries this source's labels
    return was_inventoried  # held, blocked, failed: keep what we had


def _owned_copy(entry: PlanEntry, desired: DesiredState) -> Resource:
    want = entry.desired
    assert want is not None
    labels, annotations = own.ownership_metadata(
        desired.source_id, entry.path, desired.spec_hashes.get(entry.ref, ""), desired.revision
    )
    obj = Resource(
        kind=want.kind,
        name=want.name,
        namespace=want.namespace,
        api_version=want.api_version,
        labels={**want.labels, **labels},
        annotations={**want.annotations, **annotations},
        spec=plain_copy(want.spec),
        origin=want.origin,
    )
    return obj


def _apply_one(
    backend: Backend, entry: PlanEntry, desired: DesiredState, dry_run: bool, grace: float, now: datetime
) -> Applied:
    if entry.action == Action.HELD:
        return Applied(entry, Outcome.HELD, entry.reason, entry.live)
    if entry.action == Action.UNMANAGED:
        return Applied(entry, Outcome.UNMANAGED, entry.reason, entry.live)
    if entry.action == Action.CONFLICT:
        return Applied(entry, Outcome.CONFLICT, entry.reason, entry.live)
    if entry.blocked:
        return Applied(entry, Outcome.OUT_OF_SYNC, entry.blocked, entry.live)
    if entry.action == Action.UNCHANGED and not entry.adopt:
        return Applied(entry, Outcome.UNCHANGED, "", entry.live)
    if dry_run:
        return Applied(entry, _would(entry), "dry run", entry.live)
    try:
        return _carry_out(backend, entry, desired, grace, now)
    except BackendError as exc:
        return Applied(entry, Outcome.FAILED, str(exc), entry.live)


def _would(entry: PlanEntry) -> Outcome:
    if entry.adopt:
        return Outcome.ADOPTED
    if entry.action == Action.CREATE:
        return Outcome.CREATED
    if entry.action == Action.PRUNE:
        return Outcome.PRUNED
    return Outcome.RECREATED if entry.recreate else Outcome.UPDATED


def _carry_out(
    backend: Backend, entry: PlanEntry, desired: DesiredState, grace: float, now: datetime
) -> Applied:
    ref = entry.ref
    if entry.action == Action.PRUNE:
        done = prune(backend, ref, entry.live, grace, now)
        if done.step == PruneStep.STOPPING:
            return Applied(entry, Outcome.STOPPING, done.message, done.live)
        backend.update_inventory(desired.source_id, remove={ref})
        return Applied(entry, Outcome.PRUNED, done.message or entry.reason)
    obj = _owned_copy(entry, desired)
    source_id = desired.source_id
    if entry.action == Action.CREATE:
        try:
            created = backend.create_managed(obj, source_id)
            return Applied(entry, Outcome.CREATED, entry.reason, _sharing_spec(created, entry.desired))
        except AlreadyExists:
            same = _created_meanwhile(backend, obj, source_id)
            if same is None:
                raise
            return Applied(entry, Outcome.UNCHANGED, "", same)
    if entry.adopt or entry.metadata_only:
        live = backend.update_metadata(ref, labels=obj.labels, annotations=obj.annotations)
        if entry.adopt:
            backend.update_inventory(source_id, add={ref})
        return Applied(entry, Outcome.ADOPTED if entry.adopt else Outcome.UPDATED, entry.reason, live)
    if entry.recreate:
        stop_and_delete(backend, ref, entry.live, "re-created by kgitops: its spec changed")
        return Applied(entry, Outcome.RECREATED, entry.reason, backend.create_managed(obj, source_id))
    if entry.live is not None:
        obj.resource_version = entry.live.resource_version
    return Applied(entry, Outcome.UPDATED, entry.reason, backend.update(obj))


def _sharing_spec(live: Resource, want: Resource | None) -> Resource:
    """``live`` (what a create returned), holding the desired object's spec when the two are equal: a sync
    keeps every created object until it ends, and a second copy of every spec is most of its memory on a
    cold sync (74 of 240 MiB at 10,000 jobs). Specs are never changed in place, so sharing is safe; a spec
    the backend changed (defaults filled in, unknown fields dropped) is kept as the backend returned it."""
    if want is None or live.spec is want.spec or live.spec != want.spec:
        return live
    return replace(live, spec=want.spec)


def _created_meanwhile(backend: Backend, obj: Resource, source_id: str) -> Resource | None:
    """The live object when another run of this source created exactly ``obj`` since the plan was made
    (then there is nothing to do, not a failure), else None."""
    live = backend.get(obj.ref)
    if live is None or not own.owned_by(live, source_id):
        return None
    if live.annotations.get(own.SPEC_HASH) != obj.annotations.get(own.SPEC_HASH):
        return None
    backend.update_inventory(source_id, add={obj.ref})
    return live
