"""The one backend interface the reconciler, the CLI and the SDK speak to.

Objects cross it as ``Resource`` (plain spec/status dicts), so that the embedded engine,
Kubernetes and KusciaAPI are interchangeable. Status dicts use the CRD's field names
(``phase``, ``reason``, ``message``, ``taskStatus``, ``approveStatus``, ``stageStatus``,
``startTime``, ``completionTime``, ``lastReconcileTime``, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet

from reconciler.model import ObjectRef, Resource, Stage


class BackendError(Exception):
    """A backend operation failed; the message is meant for the user."""


class NotFound(BackendError):
    pass


class AlreadyExists(BackendError):
    pass


class Conflict(BackendError):
    """The object changed underneath us (resourceVersion mismatch)."""


class PhaseError(BackendError):
    """A command that the object's current phase does not allow (e.g. suspend a Failed job)."""

    def __init__(self, message: str, phase: str = "", allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.phase = phase
        self.allowed = allowed


class NotSupported(BackendError):
    pass


class Backend(ABC):
    """Live state of Kuscia objects, and the commands Kuscia accepts on them."""

    name: str = "backend"

    # -- objects -------------------------------------------------------------------------
    @abstractmethod
    def create(self, obj: Resource) -> Resource:
        """Create the object; raise AlreadyExists if it is there. Returns the stored object."""

    @abstractmethod
    def update(self, obj: Resource) -> Resource:
        """Replace spec, labels and annotations (used for AppImages; jobs are one-shot)."""

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

    @abstractmethod
    def delete(self, ref: ObjectRef) -> None:
        """Delete; a job's tasks (and their processes) go with it. Raise NotFound if absent."""

    @abstractmethod
    def update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        """Merge labels/annotations into the object; a value of None removes the key."""

    # -- job commands --------------------------------------------------------------------
    @abstractmethod
    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        """Issue a stage command (Stop, Cancel, Suspend, Restart) as Kuscia does (§5).

        Raise PhaseError when the job's phase does not allow it (suspend needs Running,
        restart needs Failed or Suspended, ...)."""

    @abstractmethod
    def approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        """Record a party's approval or rejection of a job (§7)."""

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
        stored = self.create(obj)
        self.update_inventory(source_id, add={obj.ref})
        return stored

    # -- optional --------------------------------------------------------------------------
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
