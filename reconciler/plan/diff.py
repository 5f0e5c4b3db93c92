"""The differ: desired state + live objects + inventory → plan. A pure function, no I/O.

Safety lives here, where it can be tested as data: held objects are never touched, only inventoried objects
are pruned, prune is refused when the source failed or yields nothing, and one-shot jobs are never silently
re-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.kuscia.labels import CONTROLLER_KUSCIA_JOB, LABEL_CONTROLLER
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK
from reconciler.plan import ownership as own
from reconciler.plan.compare import metadata_changes, spec_changes
from reconciler.plan.model import Action, DesiredState, FieldChange, Plan, PlanEntry

ONE_SHOT_KINDS = frozenset({KUSCIA_JOB, KUSCIA_TASK})
# Kinds a source may hold; KusciaTasks that a job created belong to the job, not to anyone's source.
PLANNED_KINDS = (APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK)


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    max_prune: int | None = None  # None: no limit; 0: prune nothing
    # objects whose file is still in the source but no longer yields them: pruned only when named here
    confirm_prune: frozenset[str] = field(default_factory=frozenset)
    recreate: frozenset[str] = field(default_factory=frozenset)  # names (or kind/name, or refs) to re-run
    recreate_drifted: bool = False  # re-create managed objects deleted or changed behind kgitops's back
    # seconds a pruned running job has after its Stop before it is deleted anyway (0: at once); apply reads it
    prune_grace_period: float = 60.0


def is_planned_live(obj: Resource) -> bool:
    """Live objects the plan considers: not the KusciaTasks a job created for itself."""
    return obj.kind in PLANNED_KINDS and not (
        obj.kind == KUSCIA_TASK and obj.labels.get(LABEL_CONTROLLER) == CONTROLLER_KUSCIA_JOB
    )


# ref -> (desired spec hash, live "uid/resourceVersion", the spec changes found for that pair)
CompareMemo = dict[ObjectRef, tuple[str, str, list[FieldChange]]]


@dataclass(frozen=True)
class _Judged:
    """One entry of a desired object that has a live counterpart, with everything it was judged from."""

    want: Resource
    live: Resource
    inventoried: bool
    source_id: str
    digest: str
    options: PlanOptions
    entry: PlanEntry


# ref -> the last entry judged for it: reused while the very same desired and live objects (the parse cache
# and the live cache hand over the same objects while nothing changed) are judged under the same options
EntryMemo = dict[ObjectRef, _Judged]


def make_plan(
    desired: DesiredState,
    live: Iterable[Resource],
    inventory: set[ObjectRef],
    options: PlanOptions | None = None,
    memo: CompareMemo | None = None,
    entries: EntryMemo | None = None,
    task_owners: dict[tuple[str, str], ObjectRef] | None = None,
) -> Plan:
    """``memo`` (optional, kept by the caller between plans) spares comparing specs again when neither the
    desired spec nor the live object changed since the last plan: on a large source, most of them.
    ``entries`` (optional, likewise) spares judging an object again when the desired and the live object are
    the very same objects as last time; the entry is reused as it is (entries are never changed later).
    ``task_owners`` (optional): (namespace, taskID) -> the live object claiming it, over every live object,
    when ``live`` holds only some of them (an incremental plan); by default computed from ``live``."""
    options = options or PlanOptions()
    live_by_ref = {o.ref: o for o in live if is_planned_live(o)}
    plan = Plan(desired.source_id, desired.revision, error=desired.error, held_files=dict(desired.held_paths))
    refs = set(desired.objects) | set(desired.held_refs) | set(live_by_ref) | inventory
    blockers = desired.prune_blockers()
    not_understood = _not_understood(blockers)
    # computed for the first new object, if any
    owners: list[dict[tuple[str, str], ObjectRef]] = [] if task_owners is None else [task_owners]
    for ref in sorted(refs, key=_ref_key):
        now = live_by_ref.get(ref)
        want = desired.objects.get(ref)
        entry: PlanEntry | None
        if entries is not None and want is not None and now is not None and ref not in desired.held_refs:
            entry = _judged(ref, want, desired, now, ref in inventory, options, memo, entries)
        else:
            entry = _entry(ref, desired, now, ref in inventory, options, memo, not_understood)
        if entry is not None and entry.action == Action.CREATE and entry.desired is not None:
            if not owners:
                owners.append(_live_task_ids(live_by_ref.values()))
            entry = _held_by_live(entry, entry.desired, desired, owners[0]) or entry
        if entry is not None:
            plan.entries.append(entry)
    if any(e.action == Action.HELD and e.reason == not_understood for e in plan.entries):
        plan.prune_refused = not_understood
    _limit_prune(plan, desired, options)
    return plan


def _judged(
    ref: ObjectRef,
    want: Resource,
    desired: DesiredState,
    live: Resource,
    inventoried: bool,
    options: PlanOptions,
    memo: CompareMemo | None,
    entries: EntryMemo,
) -> PlanEntry:
    digest = desired.spec_hashes.get(ref, "")
    known = entries.get(ref)
    if (
        known is not None
        and known.want is want
        and known.live is live
        and known.inventoried == inventoried
        and known.source_id == desired.source_id
        and known.digest == digest
        and known.options == options
    ):
        return known.entry
    entry = _desired_entry(ref, want, desired, live, inventoried, options, memo)
    entries[ref] = _Judged(want, live, inventoried, desired.source_id, digest, options, entry)
    return entry


def task_ids(obj: Resource) -> list[str]:
    """The taskIDs an object claims: its tasks' ``taskID`` fields (KusciaJob), or its name (KusciaTask)."""
    if obj.kind == KUSCIA_TASK:
        return [obj.name]
    tasks = obj.spec.get("tasks") if obj.kind == KUSCIA_JOB and isinstance(obj.spec, dict) else None
    if not isinstance(tasks, list):
        return []
    ids = (t.get("taskID") for t in tasks if isinstance(t, dict))
    return [i for i in ids if isinstance(i, str) and i]


def _live_task_ids(live: Iterable[Resource]) -> dict[tuple[str, str], ObjectRef]:
    """(namespace, taskID) -> the live object that claims it (Kuscia names a job's KusciaTasks by taskID)."""
    owners: dict[tuple[str, str], ObjectRef] = {}
    for obj in live:
        for task_id in task_ids(obj):
            owners.setdefault((obj.namespace, task_id), obj.ref)
    return owners


def _held_by_live(
    entry: PlanEntry, want: Resource, desired: DesiredState, task_owners: dict[tuple[str, str], ObjectRef]
) -> PlanEntry | None:
    """A new object that cannot work with what is live or held, held with the reason (as admission would
    refuse it): a taskID a live object of another name already claims (XF002, as ``job create`` and KusciaAPI
    create check it), or a job whose AppImage from this source is held (it would fail for good: jobs are
    one-shot)."""
    for task_id in task_ids(want):
        owner = task_owners.get((want.namespace, task_id))
        if owner is not None and owner != entry.ref:
            why = (
                f"[XF002] taskID {task_id!r} is already used by live {owner}; Kuscia names a task by its "
                "taskID, so the two would share one task: rename it"
            )
            return PlanEntry(entry.ref, Action.HELD, why, path=entry.path, live=None)
    if want.kind == KUSCIA_JOB:
        tasks = want.spec.get("tasks") if isinstance(want.spec, dict) else None
        for task in tasks if isinstance(tasks, list) else []:
            image = task.get("appImage") if isinstance(task, dict) else None
            held = desired.held_refs.get(ObjectRef(APP_IMAGE, "", image)) if isinstance(image, str) else None
            if held is not None:
                why = (
                    f"uses {APP_IMAGE} {image}, which is held: {held}; "
                    f"fix the {APP_IMAGE} and the job follows"
                )
                return PlanEntry(entry.ref, Action.HELD, why, path=entry.path, live=None)
    return None


def _not_understood(blockers: list[str]) -> str:
    if not blockers:
        return ""
    shown = "; ".join(blockers[:3]) + (f"; and {len(blockers) - 3} more" if len(blockers) > 3 else "")
    return (
        f"nothing is pruned while {len(blockers)} file(s) or object(s) of the source fail to load or "
        f"validate (an object may have moved into one of them): {shown}"
    )


def _spec_changes(
    ref: ObjectRef, want: Resource, live: Resource, digest: str, memo: CompareMemo | None
) -> list[FieldChange]:
    if memo is None or not digest or not live.resource_version:
        return spec_changes(want.spec, live.spec)
    version = f"{live.uid}/{live.resource_version}"  # the uid tells two clusters' (or stores') versions apart
    known = memo.get(ref)
    if known is not None and known[0] == digest and known[1] == version:
        return list(known[2])
    changes = spec_changes(want.spec, live.spec)
    memo[ref] = (digest, version, changes)
    return list(changes)


def _ref_key(ref: ObjectRef) -> tuple[str, str, str]:
    return (ref.kind, ref.namespace, ref.name)


def _confirmed(ref: ObjectRef, options: PlanOptions) -> bool:
    return bool({ref.name, f"{ref.kind}/{ref.name}", str(ref)} & options.confirm_prune)


def _wants_recreate(ref: ObjectRef, obj: Resource | None, options: PlanOptions) -> bool:
    if obj is not None and obj.annotations.get(own.ON_CHANGE) == "recreate":
        return True
    return bool({ref.name, f"{ref.kind}/{ref.name}", str(ref)} & options.recreate)


def _entry(
    ref: ObjectRef,
    desired: DesiredState,
    live: Resource | None,
    inventoried: bool,
    options: PlanOptions,
    memo: CompareMemo | None = None,
    not_understood: str = "",
) -> PlanEntry | None:
    if ref in desired.held_refs:
        path = desired.held_ref_paths.get(ref) or _path(None, live)
        return PlanEntry(ref, Action.HELD, desired.held_refs[ref], path=path, live=live)
    want = desired.objects.get(ref)
    if want is not None:
        return _desired_entry(ref, want, desired, live, inventoried, options, memo)
    if live is None:
        return None  # inventoried but already gone: simply dropped from the inventory
    path = live.annotations.get(own.SOURCE_PATH, "")
    if not inventoried:
        if own.owned_by(live, desired.source_id):
            why = "carries this source's labels but is not in its inventory; never pruned"
        elif own.is_managed(live):
            why = f"managed by another source ({live.annotations.get(own.SOURCE_ID, '?')})"
        else:
            why = "not created by kgitops; left alone"
        return PlanEntry(ref, Action.UNMANAGED, why, path=path, live=live)
    if desired.error:
        return PlanEntry(ref, Action.HELD, f"the source failed: {desired.error}", path=path, live=live)
    if path in desired.held_paths:
        why = desired.held_paths[path]
        why = why if why.startswith(path) else f"{path}: {why}"
        return PlanEntry(ref, Action.HELD, why, path=path, live=live)
    if path and path in desired.yields and not _confirmed(ref, options):
        # the file it came from is still there, yet no longer yields it: truncated, or cut at a document
        # boundary, reads exactly like a deliberate removal, so only a deletion of the file, or an explicit
        # confirmation, prunes it
        now = "no objects now (emptied or truncated?)" if desired.yields[path] == 0 else "it any more"
        why = (
            f"{path} is still in the source but yields {now}; delete or rename the file to prune what it "
            f"defined, or confirm this one with --confirm-prune {ref.name}"
        )
        return PlanEntry(ref, Action.HELD, why, path=path, live=live)
    if not_understood:
        return PlanEntry(ref, Action.HELD, not_understood, path=path, live=live)
    stopped = live.annotations.get(own.STOPPED_AT, "")
    why = f"no longer in the source; stopping since {stopped}" if stopped else "no longer in the source"
    entry = PlanEntry(ref, Action.PRUNE, why, path=path, live=live)
    if not desired.usable_for_prune:
        entry.blocked = "prune refused: " + _unusable_for_prune(desired)
    elif live.annotations.get(own.PRUNE) == "disabled":
        entry.blocked = f"annotated {own.PRUNE}: disabled"
    elif not options.prune:
        entry.blocked = "prune is not enabled (--prune)"
    return entry


def _desired_entry(
    ref: ObjectRef,
    want: Resource,
    desired: DesiredState,
    live: Resource | None,
    inventoried: bool,
    options: PlanOptions,
    memo: CompareMemo | None,
) -> PlanEntry:
    path = want.origin.path if want.origin else ""
    if live is None:
        entry = PlanEntry(ref, Action.CREATE, "new in the source", path=path, desired=want)
        if inventoried:
            entry.drift = True
            entry.reason = "deleted outside kgitops"
            if not (options.recreate_drifted or _wants_recreate(ref, want, options)):
                entry.blocked = "drift is only reported; re-created with sync.recreate_drifted or --recreate"
        return entry
    entry = PlanEntry(ref, Action.UNCHANGED, path=path, desired=want, live=live)
    if own.is_managed(live) and not own.owned_by(live, desired.source_id):
        entry.action = Action.CONFLICT
        entry.reason = entry.blocked = conflict_reason(live, desired.source_id)
        return entry
    changes = _spec_changes(ref, want, live, desired.spec_hashes.get(ref, ""), memo)
    meta = metadata_changes(own.user_keys(want.labels), live.labels, "metadata.labels")
    meta += metadata_changes(own.user_keys(want.annotations), live.annotations, "metadata.annotations")
    ours = own.owned_by(live, desired.source_id)
    hash_changed = ours and live.annotations.get(own.SPEC_HASH) != desired.spec_hashes.get(ref)
    if not ours:
        entry.adopt = not changes
        entry.reason = "exists, not created by kgitops" + ("; sync adopts it" if not changes else "")
    if not changes and not hash_changed:
        if meta:
            entry.action, entry.changes, entry.metadata_only = Action.CHANGED, meta, True
            entry.reason = "labels or annotations changed"
        return entry
    entry.action = Action.CHANGED
    entry.changes = changes + meta
    entry.drift = ours and not hash_changed
    if entry.drift:
        entry.reason = "changed outside kgitops"
    elif ours:
        entry.reason = "spec changed in the source"
    if not changes:  # the source changed only in ways the live object already matches (e.g. a default)
        entry.metadata_only = True
        return entry
    if ref.kind in ONE_SHOT_KINDS:
        if _wants_recreate(ref, want, options) or (entry.drift and options.recreate_drifted):
            entry.recreate = True
        else:
            entry.blocked = (
                "OutOfSync: jobs are one-shot and not re-run silently; annotate "
                f"{own.ON_CHANGE}: recreate or run sync --recreate {ref.name}"
            )
    elif entry.drift and not options.recreate_drifted:
        entry.blocked = "drift is only reported; restored with sync.recreate_drifted"
    return entry


def conflict_reason(live: Resource, source_id: str) -> str:
    """Why a desired object whose live copy another source manages is not touched, and the two ways out.
    The owner is the live copy's ``kgitops.io/source-id`` annotation (``?`` when someone removed it)."""
    owner = live.annotations.get(own.SOURCE_ID, "")
    shown = owner or "?"
    fix = f"--source-id '{owner}'" if owner else "--source-id with that source's id"
    return (
        f"the live copy is managed by another source, {shown} (this source is {source_id}); "
        f"not touched. If that is this source under another name (a sync of the same files with another "
        f"SOURCE, --ref, --path or --git), run with {fix} (or set source.id); otherwise remove the object "
        "from that source (prune it there), and this one creates or adopts it"
    )


def _path(want: Resource | None, live: Resource | None) -> str:
    if want is not None and want.origin is not None:
        return want.origin.path
    return live.annotations.get(own.SOURCE_PATH, "") if live is not None else ""


def _unusable_for_prune(desired: DesiredState) -> str:
    """Why a source's state cannot be pruned against (its ``usable_for_prune`` is false)."""
    return f"the source failed ({desired.error})" if desired.error else "the source yields no objects at all"


def _limit_prune(plan: Plan, desired: DesiredState, options: PlanOptions) -> None:
    prunes = [e for e in plan.entries if e.action == Action.PRUNE and not e.blocked]
    if options.max_prune is not None and len(prunes) > options.max_prune:
        plan.prune_refused = (
            f"the plan would prune {len(prunes)} object(s), more than --max-prune {options.max_prune}; "
            "nothing pruned"
        )
        for e in prunes:
            e.blocked = plan.prune_refused
    elif not desired.usable_for_prune and any(e.action == Action.PRUNE for e in plan.entries):
        plan.prune_refused = _unusable_for_prune(desired)  # the reason; renderers add "prune refused: "
