"""An incremental plan: the previous plan's base (``reconciler.plan.plan_base``), patched with what changed.

A new process (``kgitops diff`` in CI) reads what the last plan was computed from, then reads only what
changed since: the files a Git tree diff names (``Source.changed_files``), parsed and validated again; the
live objects the change feed names (``Backend.changes`` from the stored cursors); the inventory, compared by
digest. The refs those touch are judged again by the differ itself (``make_plan`` on a desired state holding
just them), and the base's stored entries and counts are patched. Its cost grows with what changed, never
with what exists (issue 17).

Whatever the patch cannot prove equal to a full plan makes it give up (``None``): the caller plans in full.
It gives up on: no base, or one written under another key (version, source, backend, options); a source that
cannot diff its revisions (a directory), or a diff that touches links, submodules or dot-files' parents; a
changed file that fails to load or validate, or holds any object; a changed file that shares a name or a
taskID with another file (the cross-file rules would have to judge both); KusciaTasks in the source; a
change feed whose horizon passed (``complete``); a taskID two live objects claim; a desired object whose
parse is not in the parse cache; ``max_prune`` exceeded; an empty source; more to judge again than
``JUDGE_SHARE`` of the objects (a full plan is cheaper then).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.apply.full_base import (
    MAX_STORED,
    claim_text,
    inventory_digest,
    is_stored,
    is_unblocked_prune,
    ref_row,
    task_claims,
)
from reconciler.apply.live_cache import Cursor
from reconciler.backends.base import Backend
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK
from reconciler.plan import ownership as own
from reconciler.plan.crossfile_cache import claim_keys
from reconciler.plan.desired import DesiredStateBuilder
from reconciler.plan.diff import PlanOptions, is_planned_live, make_plan, task_ids
from reconciler.plan.model import Action, DesiredState, Plan
from reconciler.plan.plan_base import (
    BaseMeta,
    BaseReader,
    BaseUnreadable,
    BaseUpdate,
    PlanBaseFile,
    RefRow,
    task_claim,
)
from reconciler.plan.validation_seam import Checked, check_file, cross_file_errors_by_path
from reconciler.source import Source, SourceError

# refs to judge again beyond this share of the objects (at least JUDGE_MIN): a full plan, whose bulk paths
# are cheaper per object than judging one by one (e.g. after a sync that approved every job)
JUDGE_SHARE = 0.05
JUDGE_MIN = 100
# The live listings a plan reads (``Reconciler.live``): every AppImage and KusciaJob, the managed KusciaTasks
LISTINGS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (APP_IMAGE, ()),
    (KUSCIA_JOB, ()),
    (KUSCIA_TASK, ((own.MANAGED_BY, own.MANAGED_BY_VALUE),)),
)


@dataclass
class Patched:
    """An incremental plan: the plan (differences only, unchanged entries counted in ``unchanged_elided``),
    the partial desired state it judged, and how many refs it judged again."""

    plan: Plan
    desired: DesiredState
    judged: int
    inventory: set[ObjectRef] = field(default_factory=set)
    # (asked with ``settle``) whether a sync of this plan changes the inventory only for its difference
    # entries: every plain unchanged ref is inventoried and every inventoried ref has an entry
    settled: bool = False


class GiveUp(Exception):
    """The patch cannot prove its plan equal to a full one (the message says why)."""


def plan_incremental(
    base_file: PlanBaseFile,
    key: str,
    source: Source,
    backend: Backend,
    builder: DesiredStateBuilder,
    options: PlanOptions,
    revision: str,
    settle: bool = False,
) -> Patched | None:
    """The plan of ``revision`` patched onto the stored base, or None (plan in full). ``settle``: also find
    out whether the inventory is ``Patched.settled`` (what a sync needs; a few ms at 10,000 refs)."""
    try:
        with base_file.reading() as base:
            if base is None or base.meta.key != key:
                return None
            patched, update = _patch(base, source, backend, builder, options, revision)
            if settle:
                patched.settled = _settled(base, patched.inventory, update)
            expected = base.meta
    except (GiveUp, BaseUnreadable, SourceError):
        return None
    base_file.patch(update, expected)  # after the read snapshot ends: one connection, one transaction
    return patched


def _patch(
    base: BaseReader,
    source: Source,
    backend: Backend,
    builder: DesiredStateBuilder,
    options: PlanOptions,
    revision: str,
) -> tuple[Patched, BaseUpdate]:
    meta = base.meta
    files = source.changed_files(meta.revision, revision) if meta.revision else None
    if files is None:
        raise GiveUp("the source cannot diff its revisions")
    limit = max(JUDGE_MIN, int(JUDGE_SHARE * meta.objects))
    if len(files.changed) + len(files.deleted) > limit:
        raise GiveUp("too many files changed: a full plan is cheaper")
    # -- the desired side: the changed files, parsed and validated again
    changed: dict[str, Checked] = {}
    for f in files.changed:
        checked = check_file(f.path, f.read(), builder.options)
        if checked.file_error or checked.held_refs or any(o.kind == KUSCIA_TASK for o in checked.objects):
            raise GiveUp(f"{f.path} holds something")
        changed[f.path] = checked
    touched_paths = set(changed) | set(files.deleted)
    new_claims = {p: frozenset(claim_text(k) for k in claim_keys(c)) for p, c in changed.items()}
    all_claims = base.claims_of(touched_paths) | {c for cs in new_claims.values() for c in cs}
    for claim, paths in base.paths_claiming(all_claims).items():
        if paths - touched_paths:
            raise GiveUp(f"{claim} is claimed by another file too")
    if cross_file_errors_by_path(list(changed.values()), builder.options):
        raise GiveUp("the changed files clash")
    # -- the live side: what the change feed names
    cursors: list[Cursor] = []
    live_changed: dict[ObjectRef, Resource] = {}
    live_removed: set[ObjectRef] = set()
    stored = {(k, labels): v for k, labels, v in meta.cursors}
    for kind, labels in LISTINGS:
        since = stored.get((kind, labels))
        if since is None:
            raise GiveUp("no cursor")
        found = backend.changes(kind, since, dict(labels))
        if found.complete or not found.version:
            raise GiveUp("the change feed's horizon passed")
        for ref in found.removed:
            live_removed.add(ref)
            live_changed.pop(ref, None)
        for obj in found.changed:
            if is_planned_live(obj):
                live_changed[obj.ref] = obj
                live_removed.discard(obj.ref)
            else:
                live_removed.add(obj.ref)
        cursors.append((kind, labels, found.version))
    # a labelled feed names as removed whatever changed without the labels (the tasks a job created for
    # itself): only those the base knew as live count
    live_removed = base.live_refs(live_removed) if live_removed else set()
    if len(live_changed) + len(live_removed) + len(changed) + len(files.deleted) > limit:
        raise GiveUp("too much changed: a full plan is cheaper")
    inventory = backend.get_inventory(source.source_id)
    digest = inventory_digest(inventory)
    inventory_moved: set[ObjectRef] = set()
    if digest != meta.inventory:
        inventory_moved = inventory ^ base.inventory()
    # -- the refs to judge again
    moved_live = set(live_changed) | live_removed
    old_owner_claims = base.owned_by(moved_live)
    new_owner_claims = {task_claim(o.namespace, t) for o in live_changed.values() for t in task_ids(o)}
    claim_paths = base.paths_claiming(old_owner_claims | new_owner_claims)
    claimed_by = {p for paths in claim_paths.values() for p in paths}
    affected: set[ObjectRef] = set(moved_live) | inventory_moved
    affected |= base.refs_of_paths(touched_paths | claimed_by)
    wanted: dict[ObjectRef, Resource] = {}
    hashes: dict[ObjectRef, str] = {}
    for checked in changed.values():
        for obj in checked.objects:
            wanted[obj.ref] = obj
            hashes[obj.ref] = own.spec_hash(obj.spec)
    affected |= set(wanted)
    if len(affected) > limit:
        raise GiveUp("too much changed: a full plan is cheaper")
    rows = base.refs(affected)
    # desired objects of unchanged files that are judged again: from the parse cache
    need = {r.path for ref, r in rows.items() if r.path and r.path not in touched_paths and ref not in wanted}
    file_rows = base.files(need | {r.live_path for r in rows.values() if r.live_path})
    for path in need:
        if path not in file_rows:
            raise GiveUp(f"{path} is not in the base")
        for obj, spec_hash in builder.cached_objects(path, file_rows[path][0]):
            if obj.ref in affected:
                wanted[obj.ref] = obj
                hashes[obj.ref] = spec_hash
    for ref, r in rows.items():
        if r.path and r.path not in touched_paths and ref not in wanted:
            raise GiveUp(f"{ref} is not in the parse cache")
    # live objects judged again: from the feed, else read one by one (they did not change since)
    live: dict[ObjectRef, Resource] = {}
    for ref in affected:
        if ref in live_changed:
            live[ref] = live_changed[ref]
        elif ref not in live_removed and ref in rows and rows[ref].live:
            now_live = backend.get(ref)
            if now_live is None or not is_planned_live(now_live):
                raise GiveUp(f"{ref} vanished without the feed saying so")
            live[ref] = now_live
    # who claims the taskIDs of the objects judged again, over every live object
    wanted_claims = {
        task_claim(o.namespace, t): (o.namespace, t) for o in wanted.values() for t in task_ids(o)
    }
    owners: dict[tuple[str, str], ObjectRef] = {}
    claimants = {c: set(v) - moved_live for c, v in base.owners(wanted_claims).items()}
    for obj in live_changed.values():
        for t in task_ids(obj):
            claimants.setdefault(task_claim(obj.namespace, t), set()).add(obj.ref)
    for claim, refs in claimants.items():
        if claim in wanted_claims and refs:
            if len(refs) > 1:
                raise GiveUp(f"{claim} is claimed by {len(refs)} live objects")
            owners[wanted_claims[claim]] = next(iter(refs))
    # -- judge them, with the differ itself
    yields = {p: y for p, (_, y) in file_rows.items()}
    yields.update({p: len(c.objects) for p, c in changed.items()})
    for p in files.deleted:
        yields.pop(p, None)
    added_files = sum(1 for p in changed if p not in base.files([p]))
    file_count = meta.files + added_files - len(files.deleted)
    old_here = sum(1 for r in rows.values() if r.path)
    objects = meta.objects - old_here + len(wanted)
    if objects <= 0 or file_count <= 0:
        raise GiveUp("an empty source")
    desired = DesiredState(
        source.source_id,
        revision,
        dict(wanted),
        hashes,
        file_count=file_count,
        yields=yields,
        more_objects=objects - len(wanted),
    )
    partial = make_plan(desired, live.values(), inventory & affected, options, task_owners=owners)
    judged = {e.ref: e for e in partial.entries}
    counts = dict(meta.counts)
    for r in rows.values():
        counts[r.action] = counts.get(r.action, 0) - 1
    for e in partial.entries:
        counts[e.action.value] = counts.get(e.action.value, 0) + 1
    prunes = (
        meta.unblocked_prunes
        - sum(1 for r in rows.values() if r.entry is not None and is_unblocked_prune(r.entry))
        + sum(1 for e in partial.entries if is_unblocked_prune(e))
    )
    if options.max_prune is not None and prunes > options.max_prune:
        raise GiveUp("max_prune")
    if partial.prune_refused:
        raise GiveUp("prune refused")
    kept = base.differences(affected)
    shown = {**kept, **{ref: e for ref, e in judged.items() if is_stored(e)}}
    if len(shown) > MAX_STORED:
        raise GiveUp("too many differences to keep")
    entries = [shown[ref] for ref in sorted(shown, key=lambda r: (r.kind, r.namespace, r.name))]
    unchanged = counts.get(Action.UNCHANGED.value, 0)
    unchanged -= sum(1 for e in entries if e.action == Action.UNCHANGED)
    plan = Plan(source.source_id, revision, entries, unchanged_elided=unchanged)
    new_meta = BaseMeta(
        meta.key, revision, tuple(cursors), tuple(sorted((a, n) for a, n in counts.items() if n)), objects,
        file_count, digest, prunes,
    )
    update = BaseUpdate(new_meta)
    for ref in affected:
        now = judged.get(ref)
        if now is None:
            update.drop_refs.add(ref)
        else:
            update.refs.append(ref_row(now, wanted.get(ref), live.get(ref)))
    update.files = {f.path: (f.digest, len(changed[f.path].objects)) for f in files.changed}
    update.drop_files = set(files.deleted)
    update.claims = {**new_claims, **{p: frozenset() for p in files.deleted}}
    update.owners = {ref: frozenset(task_claims(live_changed.get(ref))) for ref in moved_live}
    update.inventory = inventory if inventory_moved else None
    builder.remember(changed, {f.path: f.digest for f in files.changed})
    return Patched(plan, desired, len(affected), inventory), update


def _settled(base: BaseReader, inventory: set[ObjectRef], update: BaseUpdate) -> bool:
    """Whether every plain unchanged ref of the patched plan is in ``inventory`` and every ref there has an
    entry (refs judged again: by their new rows; the others: as the base has them, whose inventory they
    share, since a ref that moved in or out of the inventory is judged again)."""
    judged: dict[ObjectRef, RefRow | None] = {r.ref: r for r in update.refs}
    judged.update(dict.fromkeys(update.drop_refs))
    if base.inventory_strays() - set(judged):
        return False
    for ref, row in judged.items():
        if row is None:
            if ref in inventory:
                return False
        elif row.action == Action.UNCHANGED.value and row.entry is None and ref not in inventory:
            return False
    return True
