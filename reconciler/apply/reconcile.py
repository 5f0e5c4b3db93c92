"""One reconcile: source → desired state → plan against the live objects → (optionally) sync.

``Reconciler`` keeps the per-file parse cache (in memory, and on disk with a ``ParseCacheFile``) and the live
objects (``LiveCache``, refreshed by version) between runs, so a plan after a small change costs what changed.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from reconciler.apply.full_base import full_base
from reconciler.apply.incremental import Patched, plan_incremental
from reconciler.apply.live_cache import LiveCache
from reconciler.apply.sync import Applied, SyncResult, sync
from reconciler.backends.base import Backend
from reconciler.config import Config
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import KUSCIA_TASK
from reconciler.plan import ownership as own
from reconciler.plan.desired import FREEZE_AFTER, DesiredStateBuilder, paused_gc
from reconciler.plan.diff import PLANNED_KINDS, CompareMemo, EntryMemo, PlanOptions, make_plan
from reconciler.plan.model import Action, DesiredState, Plan
from reconciler.plan.parse_cache import ParseCacheFile
from reconciler.plan.plan_base import PlanBaseFile
from reconciler.source import Snapshot, Source, SourceError
from reconciler.validate import Options

if TYPE_CHECKING:
    from reconciler.approvals.step import SnapshotOfGit

T = TypeVar("T")
APPROVALS_MEMO = "approvals.jobs"  # the approvals step's jobs per blob, in the parse cache file
COMPARE_MEMO = "plan.compare"  # the differ's spec comparisons by (spec hash, live uid and version)


@dataclass
class Planned:
    desired: DesiredState
    plan: Plan
    inventory: set[ObjectRef]
    live: list[Resource]
    timings: dict[str, float] = field(default_factory=dict)
    snapshot: Snapshot | None = None  # what the desired state was built from (None: the source failed)


class Reconciler:
    def __init__(
        self,
        source: Source,
        backend: Backend,
        options: PlanOptions | None = None,
        validate_options: Options | None = None,
        approvals_config: Config | None = None,
        parse_cache: ParseCacheFile | None = None,
        plan_base: PlanBaseFile | None = None,
        base_key: str = "",
    ) -> None:
        """``parse_cache``: keep parse results on disk too, so the next process starts warm. ``plan_base``:
        where ``plan_differences`` keeps the previous plan's base, valid under ``base_key``
        (``reconciler.apply.full_base.base_key``)."""
        self.source = source
        self.backend = backend
        self.options = options or PlanOptions()
        self.builder = DesiredStateBuilder(validate_options, parse_cache)
        self.live_cache = LiveCache(backend)
        self.parse_cache = parse_cache
        self._memo_loaded = False
        self._compare_loaded = False
        self._compare_memo: CompareMemo = {}
        self._entry_memo: EntryMemo = {}
        self.approvals_config = approvals_config  # set: apply JobApproval records after each sync
        self.plan_base = plan_base
        self.base_key = base_key
        self.incremental_last = -1  # refs the last ``plan_differences`` judged again (-1: it planned in full)

    @property
    def source_id(self) -> str:
        return self.source.source_id

    def read(self, revision: str | None = None) -> tuple[DesiredState, Snapshot | None]:
        """The desired state at ``revision`` (None: the source's newest) and the snapshot it was built from;
        a source that cannot be read gives a DesiredState with ``error`` set and no snapshot."""
        try:
            snap = self.source.snapshot(revision or self.source.latest() or None)
        except SourceError as exc:
            return DesiredState(self.source_id, "", error=str(exc)), None
        desired = self.builder.build(
            snap.source_id, snap.revision, snap.files, [(p.path, p.message) for p in snap.problems]
        )
        return desired, snap

    def live(self, desired: DesiredState | None = None) -> list[Resource]:
        """Every live AppImage and KusciaJob; of KusciaTasks only the managed ones and those the source
        defines (the tasks jobs create for themselves, usually the most numerous objects, are not listed)."""
        out: list[Resource] = []
        for kind in PLANNED_KINDS:
            if kind != KUSCIA_TASK:
                out.extend(self.live_cache.list(kind))
        managed = self.live_cache.list(KUSCIA_TASK, labels={own.MANAGED_BY: own.MANAGED_BY_VALUE})
        tasks = {t.ref: t for t in managed}
        for ref in desired.objects if desired is not None else ():
            if ref.kind == KUSCIA_TASK and ref not in tasks:
                found = self.backend.get(ref)
                if found is not None:
                    tasks[ref] = found
        out.extend(tasks.values())
        return out

    def plan(self, revision: str | None = None) -> Planned:
        t0 = time.perf_counter()
        desired, snapshot = self.read(revision)
        planned = self.plan_with(desired, snapshot)
        planned.timings["source"] = time.perf_counter() - t0 - sum(planned.timings.values())
        return planned

    def plan_differences(self) -> Plan:
        """The plan of the source's newest revision with its differences only (unchanged entries counted in
        ``Plan.unchanged_elided``): what ``kgitops diff`` shows. Patched onto the previous plan's base when
        there is one that can be proven to hold (``reconciler.apply.incremental``); otherwise a full plan,
        which then becomes the base."""
        revision = self._newest()
        patched = self._patched(revision, settle=False)
        if patched is not None:
            return patched.plan
        return self._plan_as_base(revision).plan

    def sync_differences(
        self, dry_run: bool = False, on_step: Callable[[Applied], None] | None = None
    ) -> tuple[Planned, SyncResult]:
        """``sync`` of the plan ``plan_differences`` makes: the unchanged entries are not applied, only
        counted (``SyncResult.unchanged_elided``), so a sync after a small change costs what changed (what
        ``kgitops sync`` runs when nothing needs every entry: no status write-back, no ``--wait``, text).

        The result is the full sync's, but for the unchanged entries left out. Planned in full (which then
        becomes the base) whenever the patch gives up, and also when the patched plan prunes anything (a
        stopping job is finished, ``prune.max`` counted, on the full plan's live objects;
        ``reconciler.apply.prune``; a blocked prune is only reported, as any blocked entry) or the inventory
        is not settled (``Patched.settled``)."""
        revision = self._newest()
        patched = self._patched(revision, settle=True)
        prunes = patched is not None and any(
            e.action == Action.PRUNE and not e.blocked for e in patched.plan.entries
        )
        if patched is None or not patched.settled or prunes:
            self.incremental_last = -1
            planned = self._plan_as_base(revision) if self.plan_base is not None else self.plan()
            return self.sync(dry_run, planned, on_step)
        desired = patched.desired
        for e in patched.plan.entries:  # kept from the base (their file did not change): hashed for the apply
            if e.desired is not None and e.ref not in desired.spec_hashes:
                desired.spec_hashes[e.ref] = own.spec_hash(e.desired.spec)
        planned = Planned(desired, patched.plan, patched.inventory, [])
        return self.sync(dry_run, planned, on_step, self._approvals_snapshot(revision))

    def _approvals_snapshot(self, revision: str) -> SnapshotOfGit | None:
        """What the approvals step reads at ``revision`` when the plan was patched: the approvals folder
        only (``reconciler.approvals.step.folder_snapshot``), else the whole snapshot (None: no approvals,
        or the source cannot be read, which the step reports)."""
        if self.approvals_config is None:
            return None
        from reconciler.approvals.step import folder_snapshot

        history = self.source.history
        found = None
        if history is not None:
            found = folder_snapshot(history, revision, self.approvals_config.approvals.dir)
        if found is not None:
            return found
        try:
            return self.source.snapshot(revision)
        except SourceError:
            return None

    def _newest(self) -> str:
        """The source's newest revision ("" when there is no base to patch or it cannot be read)."""
        self.incremental_last = -1
        if self.plan_base is None:
            return ""
        try:
            return self.source.latest()
        except SourceError:
            return ""

    def _patched(self, revision: str, settle: bool) -> Patched | None:
        if self.plan_base is None or not revision:
            return None
        with paused_gc():
            patched = plan_incremental(
                self.plan_base, self.base_key, self.source, self.backend, self.builder, self.options,
                revision, settle,
            )
        if patched is not None:
            self.incremental_last = patched.judged
        return patched

    def _plan_as_base(self, revision: str) -> Planned:
        """A full plan of ``revision`` ("": the newest), written as the new base."""
        planned = self.plan(revision or None)
        if self.plan_base is None:
            return planned
        update = full_base(
            self.base_key, planned.desired, planned.snapshot, planned.plan, planned.live, planned.inventory,
            self.live_cache.cursors(), self.builder,
        )
        if update is None:
            self.plan_base.drop()
        else:
            self.plan_base.replace(update)
        return planned

    def plan_with(self, desired: DesiredState, snapshot: Snapshot | None = None) -> Planned:
        """A plan for an already built desired state (the watcher's status refresh: same source), built from
        ``snapshot``."""
        t1 = time.perf_counter()
        read_before = self.live_cache.read_count
        with paused_gc():
            live = self.live(desired)
            inventory = self.backend.get_inventory(self.source_id)
            if self.live_cache.read_count - read_before >= FREEZE_AFTER:
                gc.freeze()  # kept by the live cache until they change: not for the collector to rescan
        t2 = time.perf_counter()
        with paused_gc():
            memo = self._memo()
            known = dict(memo)
            plan = make_plan(desired, live, inventory, self.options, memo, self._entry_memo)
            if self.parse_cache is not None:
                new = {str(r): (r, *v) for r, v in memo.items() if known.get(r) is not v}
                self.parse_cache.save_memo(COMPARE_MEMO, new)
        t3 = time.perf_counter()
        timings = {"live": t2 - t1, "diff": t3 - t2}
        return Planned(desired, plan, inventory, live, timings, snapshot)

    def sync(
        self,
        dry_run: bool = False,
        planned: Planned | None = None,
        on_step: Callable[[Applied], None] | None = None,
        approvals_from: SnapshotOfGit | None = None,
    ) -> tuple[Planned, SyncResult]:
        """Apply ``planned`` (default: a full plan of the newest revision), then the approvals step on
        ``approvals_from`` (default: the snapshot the plan was built from)."""
        planned = planned or self.plan()
        result = sync(
            self.backend,
            planned.plan,
            planned.desired,
            planned.inventory,
            dry_run,
            on_step,
            self.options.prune_grace_period,
        )
        if self.approvals_config is not None and not planned.desired.error:
            from reconciler.approvals.step import refresh_live, sync_approvals

            config = self.approvals_config
            result.approvals = self.with_blob_memo(
                lambda: sync_approvals(
                    approvals_from or planned.snapshot, self.backend, config, planned.plan.revision, dry_run
                )
            )
            refresh_live(result.applied, self.backend, result.approvals.touched)
        return planned, result

    def _memo(self) -> CompareMemo:
        """The differ's memo; on first use filled from the parse cache file (a comparison is reused only for
        the same desired spec hash and the same live uid and resource version, so a stale row is a miss)."""
        if self.parse_cache is not None and not self._compare_loaded:
            self._compare_loaded = True
            for value in self.parse_cache.load_memo(COMPARE_MEMO).values():
                if isinstance(value, tuple) and len(value) == 4 and isinstance(value[0], ObjectRef):
                    self._compare_memo.setdefault(value[0], (value[1], value[2], value[3]))
        return self._compare_memo

    def with_blob_memo(self, run: Callable[[], T]) -> T:
        """``run()`` (work that reads the jobs of every blob of a commit: the approvals step, the plan
        comment's approvals) with the jobs read per blob kept in the parse cache file, so a new process
        reads again only the blobs that changed."""
        if self.parse_cache is None:
            return run()
        from reconciler.approvals import jobs

        if not self._memo_loaded:
            self._memo_loaded = True
            jobs.remember_blobs(self.parse_cache.load_memo(APPROVALS_MEMO))
        before = jobs.parsed_blobs()
        result = run()
        new = {k: v for k, v in jobs.parsed_blobs().items() if k not in before}
        self.parse_cache.save_memo(APPROVALS_MEMO, new)
        return result
