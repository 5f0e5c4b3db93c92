"""One reconcile: source → desired state → plan against the live objects → (optionally) sync.

``Reconciler`` keeps the per-file parse cache between runs, so ``kgitops watch`` re-validates only what
changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.apply.sync import Applied, SyncResult, sync
from reconciler.backends.base import Backend
from reconciler.config import Config
from reconciler.model import ObjectRef, Resource
from reconciler.plan import ownership as own
from reconciler.plan.desired import DesiredStateBuilder, paused_gc
from reconciler.plan.diff import PLANNED_KINDS, CompareMemo, PlanOptions, make_plan
from reconciler.plan.model import DesiredState, Plan
from reconciler.source import Snapshot, Source, SourceError
from reconciler.validate import Options


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
    ) -> None:
        self.source = source
        self.backend = backend
        self.options = options or PlanOptions()
        self.builder = DesiredStateBuilder(validate_options)
        self._compare_memo: CompareMemo = {}
        self.approvals_config = approvals_config  # set: apply JobApproval records after each sync

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
            if kind != "KusciaTask":
                out.extend(self.backend.list(kind))
        tasks = {
            t.ref: t for t in self.backend.list("KusciaTask", labels={own.MANAGED_BY: own.MANAGED_BY_VALUE})
        }
        for ref in desired.objects if desired is not None else ():
            if ref.kind == "KusciaTask" and ref not in tasks:
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

    def plan_with(self, desired: DesiredState, snapshot: Snapshot | None = None) -> Planned:
        """A plan for an already built desired state (the watcher's status refresh: same source), built from
        ``snapshot``."""
        t1 = time.perf_counter()
        with paused_gc():
            live = self.live(desired)
            inventory = self.backend.get_inventory(self.source_id)
        t2 = time.perf_counter()
        with paused_gc():
            plan = make_plan(desired, live, inventory, self.options, self._compare_memo)
        t3 = time.perf_counter()
        timings = {"live": t2 - t1, "diff": t3 - t2}
        return Planned(desired, plan, inventory, live, timings, snapshot)

    def sync(
        self,
        dry_run: bool = False,
        planned: Planned | None = None,
        on_step: Callable[[Applied], None] | None = None,
    ) -> tuple[Planned, SyncResult]:
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

            result.approvals = sync_approvals(
                planned.snapshot, self.backend, self.approvals_config, planned.plan.revision, dry_run
            )
            refresh_live(result.applied, self.backend, result.approvals.touched)
        return planned, result
