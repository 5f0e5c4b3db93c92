"""What the differ consumes (the desired state) and produces (the plan); plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model import ObjectRef, Resource


class Action(StrEnum):
    CREATE = "create"
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    PRUNE = "prune"
    HELD = "held"
    UNMANAGED = "unmanaged"
    # the source defines the object, but its live copy is managed by another source (another source id):
    # not touched, and a difference (``Plan.differences``) the user must resolve
    CONFLICT = "conflict"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        return "MISSING"  # unpickled as the one ``MISSING`` (renderers test ``is MISSING``), never a copy


MISSING: Any = _Missing()


@dataclass(frozen=True)
class FieldChange:
    """One field of a spec (or metadata) that differs; ``old``/``new`` is MISSING when absent on that side."""

    path: str
    old: Any
    new: Any


@dataclass
class DesiredState:
    """Every object of one source revision that validates, and what is held back and why.

    ``held_refs``: objects named by an error finding; ``held_paths``: files that failed as a whole (their
    objects are unknown, so the live objects that came from them are kept until the file is fixed)."""

    source_id: str
    revision: str
    objects: dict[ObjectRef, Resource] = field(default_factory=dict)
    spec_hashes: dict[ObjectRef, str] = field(default_factory=dict)
    held_refs: dict[ObjectRef, str] = field(default_factory=dict)
    held_ref_paths: dict[ObjectRef, str] = field(default_factory=dict)  # the file a held object is in
    held_paths: dict[str, str] = field(default_factory=dict)
    file_count: int = 0
    error: str = ""  # the source as a whole failed: nothing may be pruned
    # every file read, with how many objects it yields (desired or held): a file that yields none now holds
    # the live objects that came from it (a file truncated to 0 bytes is not a deletion)
    yields: dict[str, int] = field(default_factory=dict)
    # objects of this revision not in ``objects``: an incremental plan's desired state holds only the objects
    # it judges again (``reconciler.apply.incremental``), yet must judge them as the whole state would
    more_objects: int = 0

    @property
    def usable_for_prune(self) -> bool:
        return (
            not self.error
            and self.file_count > 0
            and bool(self.objects or self.more_objects or self.held_refs or self.held_paths)
        )

    def prune_blockers(self) -> list[str]:
        """Why nothing may be pruned: each file, entry or object of the source that failed to load or to
        validate, as ``path[:line:col]: [RULE] message``. Prune is computed only from what was read and
        understood: a job may have moved into the broken file (as Flux and Argo CD refuse to prune when a
        build fails)."""
        out = [w if w.startswith(p) else f"{p}: {w}" for p, w in sorted(self.held_paths.items())]
        seen = set(self.held_paths)
        for ref, why in sorted(self.held_refs.items()):
            path = self.held_ref_paths.get(ref, "")
            if path in seen and path:
                continue  # the whole file is already listed
            out.append(why if not path or why.startswith(path) else f"{path}: {why}")
        return out


@dataclass
class PlanEntry:
    ref: ObjectRef
    action: Action
    reason: str = ""
    path: str = ""  # the source file (desired) or the recorded source path (live)
    changes: list[FieldChange] = field(default_factory=list)
    desired: Resource | None = None
    live: Resource | None = None
    blocked: str = ""  # non-empty: sync will not carry the action out, and this says why
    recreate: bool = False  # a changed one-shot object that sync deletes and creates again
    adopt: bool = False  # an identical object created by someone else: sync labels and inventories it
    drift: bool = False  # the live object was deleted or changed outside kgitops
    metadata_only: bool = False

    @property
    def effective(self) -> bool:
        """Whether sync would change anything for this entry."""
        if self.blocked:
            return False
        return self.action in (Action.CREATE, Action.CHANGED, Action.PRUNE) or self.adopt


@dataclass
class Plan:
    source_id: str
    revision: str
    entries: list[PlanEntry] = field(default_factory=list)
    error: str = ""  # the source failed; the plan lists live objects but nothing is pruned
    prune_refused: str = ""
    held_files: dict[str, str] = field(default_factory=dict)  # files that failed as a whole: path -> why
    # unchanged entries left out of ``entries`` (a plan asked for its differences only: ``kgitops diff``'s
    # text, which never shows them, from an incremental plan); counted in ``counts`` and the summary
    unchanged_elided: int = 0

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for e in self.entries:
            out[e.action.value] += 1
        out[Action.HELD.value] += len(self.held_files)
        out[Action.UNCHANGED.value] += self.unchanged_elided
        return out

    @property
    def has_changes(self) -> bool:
        """Whether sync would change anything."""
        return any(e.effective for e in self.entries)

    @property
    def differences(self) -> list[PlanEntry]:
        """Every entry where the source and the live state differ, whether sync acts on it or not: a create,
        a change (a changed one-shot job left OutOfSync too), a prune (refused or not), a held object, an
        object whose live copy another source manages (a conflict)."""
        return [
            e for e in self.entries if e.action not in (Action.UNCHANGED, Action.UNMANAGED) or e.adopt
        ]

    @property
    def in_sync(self) -> bool:
        """Nothing differs and nothing is held: what ``kgitops diff`` exits 0 for."""
        return not (self.error or self.held_files or self.prune_refused or self.differences)

    def entry(self, ref: ObjectRef) -> PlanEntry | None:
        for e in self.entries:
            if e.ref == ref:
                return e
        return None
