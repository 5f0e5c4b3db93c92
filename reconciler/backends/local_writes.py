"""The writes of a ``LocalBackend``: objects, stage commands, approvals and inventories, each in one
transaction of the engine's store; after a write that the controllers act on, ``kick`` makes sure some
process drives the engine. A backend opened read-only refuses them all (``_writable``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from reconciler.backends.base import AlreadyExists, BackendError, NotFound, PhaseError, parse_stage
from reconciler.backends.local_driving import LocalDriving
from reconciler.engine.store import StoreError
from reconciler.model import KINDS, JobPhase, ObjectRef, Resource, Stage
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK, plain_copy
from reconciler.model.phases import ApprovePhase


class LocalWrites(LocalDriving):
    """The write side of ``LocalBackend``."""

    def _writable(self, what: str) -> None:
        if self.readonly:
            raise BackendError(f"cannot {what}: the local engine at {self.state_dir} was opened read-only")
        self.publish_settings()

    # -- objects --------------------------------------------------------------------------
    def _create(self, obj: Resource) -> Resource:
        return self._insert(obj, "")

    def _create_managed(self, obj: Resource, source_id: str) -> Resource:
        """The object and its inventory entry in one SQLite transaction: a kill -9 leaves both or neither."""
        return self._insert(obj, source_id)

    def _insert(self, obj: Resource, inventory: str) -> Resource:
        self._writable(f"create {obj.ref}")
        if obj.kind not in KINDS:
            raise BackendError(f"the local engine stores {', '.join(KINDS)}, not {obj.kind!r}")
        if not obj.name:
            raise BackendError(f"a {obj.kind} needs metadata.name")
        new = dataclasses.replace(
            obj,
            labels=dict(obj.labels),
            annotations=dict(obj.annotations),
            spec=plain_copy(obj.spec),
            status={},
            resource_version="",
            uid="",
            creation_timestamp="",
        )
        try:
            stored = self.store.create(new, inventory=inventory)
        except StoreError:
            raise AlreadyExists(f"{obj.ref} already exists") from None
        stored.origin = obj.origin
        if obj.kind != APP_IMAGE:
            self.kick()
        return stored

    def _update(self, obj: Resource) -> Resource:
        self._writable(f"update {obj.ref}")
        with self.store.transaction():
            current = self.store.get(obj.ref)
            if current is None:
                raise NotFound(f"{obj.ref} does not exist")
            current.spec = plain_copy(obj.spec)
            current.labels = dict(obj.labels)
            current.annotations = dict(obj.annotations)
            return self.store.put(current)

    def delete(self, ref: ObjectRef) -> None:
        self._writable(f"delete {ref}")
        names: set[str] = set()
        with self.store.transaction():
            obj = self.store.get(ref)
            if obj is None:
                raise NotFound(f"{ref} does not exist")
            if obj.kind == KUSCIA_JOB:
                for t in self.store.list(KUSCIA_TASK, namespace=obj.namespace, owner=obj.uid):
                    self.store.delete(t.ref)
                    names.add(t.name)
            elif obj.kind == KUSCIA_TASK:
                names.add(obj.name)
            self.store.delete(ref)
        if not names:
            return
        # the processes of deleted tasks: collected here if no other process drives, else by the driver
        if self.drive():
            deadline = time.monotonic() + 10
            while any(p.task in names for p in self.store.pods()) and time.monotonic() < deadline:
                self.runtime.tick()
                if not self.runtime.collect_garbage(self.store.uids(KUSCIA_TASK)):
                    time.sleep(0.02)
            self.runtime.purge(names)

    def _update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        self._writable(f"update {ref}")
        with self.store.transaction():
            obj = self.store.get(ref)
            if obj is None:
                raise NotFound(f"{ref} does not exist")
            for target, changes in ((obj.labels, labels), (obj.annotations, annotations)):
                for k, v in (changes or {}).items():
                    if v is None:
                        target.pop(k, None)
                    else:
                        target[k] = v
            return self.store.put(obj)

    # -- job commands ---------------------------------------------------------------------
    def _job(self, ref: ObjectRef) -> Resource:
        if ref.kind != KUSCIA_JOB:
            raise BackendError(f"{ref} is not a {KUSCIA_JOB}; stage commands and approvals apply to jobs")
        job = self.store.get(ref)
        if job is None:
            raise NotFound(f"job {ref.name} does not exist")
        return job

    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        """Write the stage command, with KusciaAPI's phase check (``kuscia.stages.kusciaapi_refusal``: none
        for stop and cancel); the engine's controller then acts on it or not, as Kuscia's does."""
        self._writable(f"{stage.value.lower()} {ref}")
        parse_stage(stage)
        with self.store.transaction():
            job = self._job(ref)
            from reconciler.kuscia.stages import kusciaapi_refusal  # writes only: `job list` never loads it

            refusal = kusciaapi_refusal(stage, job.status)
            if refusal is not None:
                phase = str(JobPhase.parse(job.status.get("phase")))
                raise PhaseError(refusal.text(job.name), phase, tuple(str(p) for p in refusal.allowed))
            from reconciler.engine.stage_commands import set_stage_label

            set_stage_label(job, stage, domain or str(job.spec.get("initiator", "")))
            self.store.put(job)
        self.kick()

    def _approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        self._writable(f"record an approval of {ref}")
        with self.store.transaction():
            job = self._job(ref)
            from reconciler.model import JobSpec  # the typed spec: not loaded by reads

            spec = JobSpec.from_dict(job.spec)
            if domain not in spec.domains:
                raise BackendError(
                    f"{domain} is not a party of job {job.name}; its parties are {', '.join(spec.domains)}"
                )
            phase = JobPhase.parse(job.status.get("phase"))
            if phase.is_final:
                from reconciler.kuscia.stages import APPROVAL_PHASES

                raise PhaseError(
                    f"job {job.name} is {phase}; approvals apply to a job that is Initialized or "
                    "AwaitingApproval",
                    str(phase),
                    tuple(str(p) for p in APPROVAL_PHASES),
                )
            decision = ApprovePhase.ACCEPTED if accept else ApprovePhase.REJECTED
            job.status.setdefault("approveStatus", {})[domain] = decision.value
            self.store.put(job)
        self.kick()

    # -- inventory --------------------------------------------------------------------------
    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self.store.get_inventory(source_id)

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        self._writable("record the inventory")
        self.store.set_inventory(source_id, refs)

    def update_inventory(
        self,
        source_id: str,
        add: AbstractSet[ObjectRef] = frozenset(),
        remove: AbstractSet[ObjectRef] = frozenset(),
    ) -> None:
        self._writable("record the inventory")
        self.store.update_inventory(source_id, add, remove)
