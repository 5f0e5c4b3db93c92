"""The one backend interface the reconciler, the CLI and the SDK speak to.

Objects cross it as ``Resource`` (plain spec/status dicts), so that the embedded engine,
Kubernetes and KusciaAPI are interchangeable. Status dicts use the CRD's field names
(``phase``, ``reason``, ``message``, ``taskStatus``, ``approveStatus``, ``stageStatus``,
``startTime``, ``completionTime``, ``lastReconcileTime``, ...).

The writes that let an object in or make it run (``create``, ``create_managed``, ``update``,
``update_metadata``, ``approve``) are implemented here, once: each runs admission
(``reconciler.validate.admission``, the checks of ``kgitops validate``) and raises ``Invalid`` before the
backend's own ``_create``/``_create_managed``/``_update``/``_update_metadata``/``_approve`` is called. A
backend class may not override the public methods (``__init_subclass__`` refuses it), so no backend can skip
admission.
"""

from __future__ import annotations

import builtins
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler.backends.errors import (
    AlreadyExists,
    BackendError,
    Conflict,
    Invalid,
    NotFound,
    NotSupported,
    PhaseError,
    check_kusciaapi_stage,
    parse_stage,
)
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK

if TYPE_CHECKING:
    from reconciler.backends.pages import Page, PageRequest, TaskPageRequest
    from reconciler.validate.admission import Verdict

__all__ = [  # the errors (``backends.errors``) stay importable from here
    "GUARDED",
    "AlreadyExists",
    "Backend",
    "BackendError",
    "Capabilities",
    "Conflict",
    "Invalid",
    "LiveChanges",
    "NotFound",
    "NotSupported",
    "PhaseError",
    "admit",
    "admit_new",
    "check_kusciaapi_stage",
    "parse_stage",
]


def _admission() -> Any:
    """``reconciler.validate.admission``, imported when a write needs it: reads (``job list``) never pay for
    loading the validator."""
    from reconciler.validate import admission

    return admission


def admit(obj: Resource) -> Verdict:
    """Raise ``Invalid`` unless ``obj`` passes admission; returns the verdict (it may hold warnings)."""
    verdict = _admission().check_resource(obj)
    if not verdict.ok:
        raise Invalid(verdict)
    return verdict


def admit_new(backend: Backend, obj: Resource) -> Verdict:
    """``admit``, then validate's cross-object rules (XF002: a taskID another job or task already claims)
    against the live KusciaJobs and KusciaTasks of the object's namespace. For the ways one object arrives
    (``job create``, KusciaAPI create); sync checks its whole source at once instead."""
    verdict = admit(obj)
    if obj.kind not in (KUSCIA_JOB, KUSCIA_TASK):
        return verdict
    live = [*backend.list(KUSCIA_JOB, obj.namespace), *backend.list(KUSCIA_TASK, obj.namespace)]
    crossed = _admission().check_against(obj, live, where=f"the {backend.name} backend")
    if not crossed.ok:
        raise Invalid(crossed)
    return verdict + crossed


GUARDED = ("create", "create_managed", "update", "update_metadata", "approve")


@dataclass(frozen=True)
class Capabilities:
    """What a backend offers beyond the interface every backend implements (``Backend.capabilities``).

    ``logs``: ``Backend.logs`` serves task logs (else it raises NotSupported). ``engine_in_process``: the
    backend's controllers run in the process that drives them: ``Backend.step`` does one pass of them, and
    ``Backend.run_until`` drives them while it waits (the embedded engine); elsewhere the controllers run
    on their own (Kuscia's) and both only wait. ``delete_ends_tasks``: ``Backend.delete`` ends a running
    job's task processes itself before it returns (the embedded engine), so prune stops and deletes at once;
    elsewhere Kuscia's controller must act on the Stop first, and prune deletes a stopped job only once it is
    final or ``prune.grace_period`` has passed (``reconciler.apply.prune``).
    """

    logs: bool = False
    engine_in_process: bool = False
    delete_ends_tasks: bool = False
    change_feed: bool = False
    """``Backend.changes`` reads only what changed since a version (else it lists everything, every time)."""


@dataclass(frozen=True)
class LiveChanges:
    """What ``Backend.changes`` found: ``version``, the token to pass next time (opaque; "" when the backend
    keeps none); ``complete``: ``changed`` is every object of the kind (replace what you hold), else only
    those created or updated since; ``removed``: refs deleted since, or that no longer carry the labels
    asked for (a ref in both lists was deleted and created again: ``changed`` holds it now)."""

    version: str
    complete: bool
    changed: list[Resource]
    removed: list[ObjectRef] = field(default_factory=list)


class Backend(ABC):
    """Live state of Kuscia objects, and the commands Kuscia accepts on them."""

    name: str = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        overridden = [m for m in GUARDED if m in vars(cls)]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: a backend implements _{overridden[0]}; "
                "the public method runs admission first and must stay Backend's own"
            )

    # -- objects (admitted here, carried out by the backend) -----------------------------------
    def create(self, obj: Resource) -> Resource:
        """Create the object; raise Invalid if admission refuses it, AlreadyExists if it is there.

        Returns the stored object."""
        admit(obj)
        return self._create(obj)

    def update(self, obj: Resource) -> Resource:
        """Replace spec, labels and annotations (for AppImages; jobs are one-shot); Invalid if refused."""
        admit(obj)
        return self._update(obj)

    def update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        """Merge labels/annotations into the object; a value of None removes the key. Invalid if the
        object's labels and annotations after the merge break validate's metadata rules (META003)."""
        verdict = _admission().check_metadata_change(ref, labels, annotations)
        if verdict.ok and annotations:  # the size limit is on all annotations together
            current = self.get(ref)
            if current is not None:
                merged = {**current.annotations, **annotations}
                verdict = _admission().check_metadata_change(ref, None, merged)
        if not verdict.ok:
            raise Invalid(verdict)
        return self._update_metadata(ref, labels, annotations)

    def approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        """Record a party's approval or rejection of a job (§7).

        An approval lets a job run, so the job must pass admission as it is stored now (a job created
        around kgitops, e.g. by another party's node, may not); a rejection is always recorded."""
        if accept and ref.kind == KUSCIA_JOB:
            job = self.get(ref)
            if job is not None:
                verdict = _admission().check_resource(job)
                if not verdict.ok:
                    raise Invalid(verdict, f"approve {ref}")
        self._approve(ref, domain, accept, reason)

    @abstractmethod
    def _create(self, obj: Resource) -> Resource:
        """Store a new, admitted object; raise AlreadyExists if it is there."""

    @abstractmethod
    def _update(self, obj: Resource) -> Resource:
        """Replace spec, labels and annotations of an admitted object."""

    @abstractmethod
    def get(self, ref: ObjectRef) -> Resource | None:
        """The live object with its status, or None."""

    @abstractmethod
    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Resource]:
        """Objects of a kind, optionally only those carrying all the given labels, sorted by name."""

    def changes(self, kind: str, since: str = "", labels: Mapping[str, str] | None = None) -> LiveChanges:
        """The objects of a kind (carrying all ``labels``) that changed since the version token ``since``
        ("" for everything), so a caller that keeps the live state reads only what changed. Here a full
        ``list`` (``complete``); a backend with ``capabilities.change_feed`` answers from its change feed
        (the embedded engine: a resource version per row, like Kubernetes' resourceVersion; Kubernetes: an
        informer per collection, a list and then a watch, ``backends.k8s.informer``)."""
        return LiveChanges("", True, self.list(kind, labels=labels))

    @abstractmethod
    def list_jobs(self, page: PageRequest) -> Page:
        """One page of the namespace's KusciaJobs in name order, filtered (``reconciler.backends.pages``),
        reading no more of the jobs than that page needs. ``page.marker`` is a ``Page.next_marker`` this
        backend returned; anything else raises ``InvalidMarker`` (exit code 2)."""

    def job_names(self, namespace: str) -> builtins.list[str]:
        """The names of the namespace's KusciaJobs, sorted (what "did you mean" offers). Here: paged
        through ``list_jobs``; a backend that can read names alone (the embedded store's index) does."""
        from reconciler.backends.pages import MAX_LIMIT, PageRequest, names_of_pages

        return names_of_pages(lambda marker: self.list_jobs(PageRequest(namespace, MAX_LIMIT, marker)))

    @abstractmethod
    def list_tasks(self, page: TaskPageRequest) -> Page:
        """One page of the namespace's KusciaTasks in name order, filtered by phase
        (``reconciler.backends.pages``), reading no more of the tasks than that page needs where the backend
        can. ``page.marker`` is a ``Page.next_marker`` this backend returned; anything else raises
        ``InvalidMarker`` (exit code 2)."""

    def task_names(self, namespace: str) -> builtins.list[str]:
        """The names of the namespace's KusciaTasks, sorted (what "did you mean" offers). Here: paged
        through ``list_tasks``; the embedded store reads them from its index."""
        from reconciler.backends.pages import MAX_LIMIT, TaskPageRequest, names_of_pages

        return names_of_pages(lambda marker: self.list_tasks(TaskPageRequest(namespace, MAX_LIMIT, marker)))

    @abstractmethod
    def delete(self, ref: ObjectRef) -> None:
        """Delete; a job's tasks (and their processes) go with it. Raise NotFound if absent."""

    @abstractmethod
    def _update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        """Merge admitted labels/annotations into the object; a value of None removes the key."""

    # -- job commands --------------------------------------------------------------------
    @abstractmethod
    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        """Issue a stage command (Stop, Cancel, Suspend, Restart) as Kuscia does (§5).

        Raise PhaseError when the job's phase does not allow it (suspend needs Running,
        restart needs Failed or Suspended, ...)."""

    @abstractmethod
    def _approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        """Record a party's approval or rejection of an admitted job (§7)."""

    # -- inventory of managed objects, per source ----------------------------------------
    @abstractmethod
    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        """Objects that the given source created and still owns."""

    @abstractmethod
    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        """Replace the inventory of a source."""

    def update_inventory(
        self,
        source_id: str,
        add: AbstractSet[ObjectRef] = frozenset(),
        remove: AbstractSet[ObjectRef] = frozenset(),
    ) -> None:
        """Add and remove entries of a source's inventory, leaving every other entry as it is (so two writers
        never undo each other's entries). Here a read-modify-write; backends that can do it atomically do."""
        if not add and not remove:
            return
        current = self.get_inventory(source_id)
        wanted = (current | set(add)) - set(remove)
        if wanted != current:
            self.set_inventory(source_id, wanted)

    def create_managed(self, obj: Resource, source_id: str) -> Resource:
        """Create ``obj`` and record it in the inventory of ``source_id``. The embedded engine does both in
        one transaction, so a crash (kill -9) between the two can never leave an object no sync may prune;
        elsewhere the entry is written right after the create."""
        admit(obj)
        return self._create_managed(obj, source_id)

    def _create_managed(self, obj: Resource, source_id: str) -> Resource:
        stored = self._create(obj)
        self.update_inventory(source_id, add={obj.ref})
        return stored

    # -- waiting and driving ------------------------------------------------------------------
    def step(self) -> bool:
        """One pass of the controllers in this process (``capabilities.engine_in_process``); True if anything
        changed. Where the controllers run elsewhere there is nothing to do here: False."""
        return False

    def run_until(
        self,
        predicate: Callable[[], bool],
        timeout: float | None = None,
        stop: threading.Event | None = None,
        poll: float | None = None,
    ) -> bool:
        """Wait until ``predicate()`` holds, checking every ``poll`` seconds (default ``poll_interval``);
        False on ``timeout`` (seconds, None: no limit) or when ``stop`` is set. Each round takes one
        ``step()``, so the embedded engine drives its controllers meanwhile; a round that changed something
        is followed at once."""
        wait = self.poll_interval if poll is None else poll
        deadline = None if timeout is None else time.monotonic() + timeout
        wake = stop or threading.Event()
        while True:
            changed = self.step()
            if predicate():
                return True
            if stop is not None and stop.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if changed:
                continue
            pause = self.idle_pause(wait)
            self.rest(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())), wake)

    poll_interval: float = 0.2
    """Seconds between checks of ``run_until`` when nothing changed."""

    def idle_pause(self, poll: float) -> float:
        """How long ``run_until`` rests after a round that changed nothing; ``poll`` by default."""
        return poll

    def rest(self, seconds: float, wake: threading.Event) -> None:
        """``run_until``'s rest: ``seconds`` at most, less if ``wake`` is set (and ``wake()`` called, for the
        embedded engine). The embedded engine also wakes when one of its processes exits, a deadline of its is
        due, or another thread writes through its own store connection."""
        wake.wait(seconds)

    def wake(self) -> None:  # noqa: B027 - optional hook
        """End a ``rest`` under way early, or the next one if none is: the one method another thread may call
        (``serve`` writes through its driving thread's backend, so a write must end that thread's rest). Here
        setting ``rest``'s ``wake`` does it all."""

    # -- optional (see ``capabilities``) ---------------------------------------------------
    def logs(
        self, job: str, task: str | None = None, party: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        raise NotSupported(f"the {self.name} backend does not serve logs")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and locks."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
