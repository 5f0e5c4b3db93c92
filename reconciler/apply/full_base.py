"""The plan base of a full plan (``reconciler.plan.plan_base``: what the next incremental plan patches), and
the parts a patched base (``reconciler.apply.incremental``) is made of too: the key a base is reused under,
the digest of the inventory, the claim texts, and the row kept for each planned ref.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import reconciler
from reconciler.apply.live_cache import Cursor
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import KUSCIA_TASK
from reconciler.plan import ownership as own
from reconciler.plan.crossfile_cache import claim_keys
from reconciler.plan.desired import DesiredStateBuilder
from reconciler.plan.diff import PlanOptions, is_planned_live, task_ids
from reconciler.plan.model import Action, DesiredState, Plan, PlanEntry
from reconciler.plan.plan_base import BASE_SCHEMA, BaseMeta, BaseUpdate, RefRow, task_claim
from reconciler.source import Snapshot, Source

MAX_STORED = 2000  # difference entries beyond this: the base would cost more to read than a plan; none kept


def base_key(source: Source, backend_id: str, validator: str, options: PlanOptions) -> str:
    """Everything a base must have been computed under to be reused."""
    text = "|".join(
        (
            reconciler.__version__,
            str(BASE_SCHEMA),
            source.source_id,
            source.describe(),
            backend_id,
            validator,
            repr(options),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def inventory_digest(inventory: Iterable[ObjectRef]) -> str:
    """A digest of a set of refs (sorted as text: far cheaper than sorting the refs)."""
    text = "\n".join(sorted(f"{r.kind}/{r.namespace}/{r.name}" for r in inventory))
    return hashlib.sha256(text.encode()).hexdigest()


def claim_text(key: tuple[str, ...]) -> str:
    """A file's claim (``crossfile_cache.claim_keys``: an object's ref, or a taskID) as a base stores it."""
    return "/".join(key)


def full_base(
    key: str,
    desired: DesiredState,
    snapshot: Snapshot | None,
    plan: Plan,
    live: list[Resource],
    inventory: set[ObjectRef],
    cursors: list[Cursor],
    builder: DesiredStateBuilder,
) -> BaseUpdate | None:
    """A whole new base from a full plan, or None when that plan cannot be one (something is held, the
    source failed, a prune was refused, KusciaTasks in the source, too many differences)."""
    if (
        snapshot is None
        or desired.error
        or desired.held_paths
        or desired.held_refs
        or plan.prune_refused
        or plan.held_files
        or snapshot.problems
        or any(r.kind == KUSCIA_TASK for r in desired.objects)
        or len(live) != len({o.ref for o in live})
        or any(c == "" for _, _, c in cursors)
    ):
        return None
    stored = [e for e in plan.entries if is_stored(e)]
    if len(stored) > MAX_STORED:
        return None
    live_by_ref = {o.ref: o for o in live if is_planned_live(o)}
    counts: dict[str, int] = {}
    update = BaseUpdate(BaseMeta(key, "", (), (), 0, 0, "", 0))
    for e in plan.entries:
        counts[e.action.value] = counts.get(e.action.value, 0) + 1
        update.refs.append(ref_row(e, desired.objects.get(e.ref), live_by_ref.get(e.ref)))
    for f in snapshot.files:
        update.files[f.path] = (f.digest, desired.yields.get(f.path, 0))
        checked = builder.checked(f.path, f.digest)
        if checked is None:
            return None
        update.claims[f.path] = frozenset(claim_text(k) for k in claim_keys(checked))
    update.owners = {ref: frozenset(task_claims(o)) for ref, o in live_by_ref.items()}
    update.inventory = set(inventory)
    prunes = sum(1 for e in plan.entries if is_unblocked_prune(e))
    update.meta = BaseMeta(
        key, desired.revision, tuple(cursors), tuple(sorted(counts.items())), len(desired.objects),
        desired.file_count, inventory_digest(inventory), prunes,
    )
    return update


def is_unblocked_prune(e: PlanEntry) -> bool:
    """Whether the entry is a prune that nothing blocks (what ``PlanOptions.max_prune`` counts)."""
    return e.action == Action.PRUNE and not e.blocked


def is_stored(e: PlanEntry) -> bool:
    """Whether a base keeps the whole entry: everything ``diff`` shows (all but a plain unchanged one)."""
    return e.action != Action.UNCHANGED or e.adopt


def task_claims(obj: Resource | None) -> set[str]:
    """The taskIDs a live object claims, as ``plan_base.task_claim`` texts (none for no object)."""
    return set() if obj is None else {task_claim(obj.namespace, t) for t in task_ids(obj)}


def ref_row(e: PlanEntry, want: Resource | None, live: Resource | None) -> RefRow:
    """The base's row of a planned ref: the file of its desired object, the file its live object came from
    (``own.SOURCE_PATH``), whether it is live, its action, and the entry itself when ``is_stored``."""
    path = want.origin.path if want is not None and want.origin is not None else ""
    live_path = live.annotations.get(own.SOURCE_PATH, "") if live is not None else ""
    return RefRow(e.ref, path, live_path, live is not None, e.action.value, e if is_stored(e) else None)
