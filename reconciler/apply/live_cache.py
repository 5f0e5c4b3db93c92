"""The live objects a plan compares against, kept between plans and refreshed by version.

Each refresh asks the backend only for what changed since the version it last saw (``Backend.changes``): on
the embedded engine one indexed query, so a plan after a one-file commit decodes the handful of objects that
moved rather than every live object. Objects that did not change stay the very same ``Resource`` objects, so
the differ's memo (keyed by resource version) recognises them without comparing specs again. Backends
without a change feed answer with a full list each time, which is what a plan read before.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.backends.base import Backend
from reconciler.model import ObjectRef, Resource

Cursor = tuple[str, tuple[tuple[str, str], ...], str]  # (kind, labels as sorted pairs, version token)


@dataclass
class _Kept:
    version: str = ""
    objects: dict[ObjectRef, Resource] = field(default_factory=dict)


class LiveCache:
    """Live objects per (kind, label selector); not thread-safe (one per ``Reconciler``)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._kept: dict[tuple[str, tuple[tuple[str, str], ...]], _Kept] = {}
        self.read_count = 0  # objects (and removals) the backend returned, all refreshes together

    def list(self, kind: str, labels: Mapping[str, str] | None = None) -> list[Resource]:
        """Every live object of ``kind`` carrying all ``labels``, as of now."""
        key = (kind, tuple(sorted((labels or {}).items())))
        kept = self._kept.setdefault(key, _Kept())
        found = self.backend.changes(kind, kept.version, labels)
        if found.complete:
            kept.objects = {o.ref: o for o in found.changed}
            self.read_count += len(found.changed)
        else:
            for ref in found.removed:
                kept.objects.pop(ref, None)
            for obj in found.changed:
                kept.objects[obj.ref] = obj
            self.read_count += len(found.changed) + len(found.removed)
        kept.version = found.version
        return list(kept.objects.values())

    def cursors(self) -> builtins.list[Cursor]:
        """(kind, labels as sorted pairs, the version token the next refresh reads from) per listing kept."""
        return [(kind, labels, kept.version) for (kind, labels), kept in self._kept.items()]

    def forget(self) -> None:
        """Drop everything: the next ``list`` reads the backend in full."""
        self._kept.clear()
