"""Cross-file checks that scale with the change, not with the repository.

The validator's cross-file rules (an object defined twice, a taskID claimed by two objects) compare every file
with every other. After a one-file commit only the files that share a name or a taskID with the changed file
can gain or lose such an error, so only they are checked again (in input order, so "first definition wins"
holds); the errors of every other file are kept from the previous build.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import ObjectRef
from reconciler.plan.validation_seam import Checked, cross_file_errors_by_path
from reconciler.validate import Options

Key = tuple[str, ...]
FULL_CHECK_SHARE = 0.1  # more changed files than this share of the source: check everything again


def claim_keys(checked: Checked) -> frozenset[Key]:
    """What a file claims that another file may claim too: its objects' refs (``("ref", kind, namespace,
    name)``) and the taskIDs they use (``("task", namespace, taskID)``, a job's own name counting as one)."""
    keys: set[Key] = set()
    for facts in checked.raw.facts if checked.raw is not None else ():
        ref: ObjectRef = facts.ref
        keys.add(("ref", ref.kind, ref.namespace, ref.name))
        keys.add(("task", ref.namespace, ref.name))
        for place in facts.task_ids:
            keys.add(("task", ref.namespace, str(place.value)))
    return frozenset(keys)


class CrossFileCache:
    def __init__(self) -> None:
        self._digests: dict[str, str] = {}
        self._keys: dict[str, frozenset[Key]] = {}
        self._index: dict[Key, set[str]] = {}
        self._errors: dict[str, dict[ObjectRef, str]] = {}
        self.checked_last = 0  # files the last call checked again

    def errors(
        self, checked: Sequence[Checked], digests: Sequence[str], options: Options | None
    ) -> dict[ObjectRef, tuple[str, str]]:
        """Held objects: ref -> (the file the error is reported in, the error)."""
        current = {c.path: d for c, d in zip(checked, digests, strict=True)}
        changed = {p for p, d in current.items() if self._digests.get(p) != d}
        removed = set(self._digests) - set(current)
        if not self._digests or len(changed) + len(removed) > max(20, FULL_CHECK_SHARE * len(current)):
            self._full(checked, current, options)
        else:
            self._incremental(checked, current, changed, removed, options)
        out: dict[ObjectRef, tuple[str, str]] = {}
        for path, per_file in sorted(self._errors.items()):
            for ref, why in per_file.items():
                out.setdefault(ref, (path, why))
        return out

    def _full(self, checked: Sequence[Checked], current: dict[str, str], options: Options | None) -> None:
        self._digests = dict(current)
        self._keys = {c.path: claim_keys(c) for c in checked}
        self._index = {}
        for path, keys in self._keys.items():
            for k in keys:
                self._index.setdefault(k, set()).add(path)
        self._errors = cross_file_errors_by_path(checked, options)
        self.checked_last = len(checked)

    def _incremental(
        self,
        checked: Sequence[Checked],
        current: dict[str, str],
        changed: set[str],
        removed: set[str],
        options: Options | None,
    ) -> None:
        by_path = {c.path: c for c in checked}
        touched: set[Key] = set()
        for path in changed | removed:
            for k in self._keys.pop(path, frozenset()):
                touched.add(k)
                paths = self._index.get(k)
                if paths is not None:
                    paths.discard(path)
        for path in changed:
            keys = claim_keys(by_path[path])
            self._keys[path] = keys
            touched |= keys
            for k in keys:
                self._index.setdefault(k, set()).add(path)
        affected = set(changed)
        for k in touched:
            affected |= self._index.get(k, set())
        subset = [c for c in checked if c.path in affected]
        found = cross_file_errors_by_path(subset, options)
        for path in affected | removed:
            self._errors.pop(path, None)
        self._errors.update(found)
        self._digests = dict(current)
        self.checked_last = len(subset)
