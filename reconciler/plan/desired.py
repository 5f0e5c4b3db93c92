"""From a source's files to the desired state: load + validate each file, hold what fails.

Parse results are cached by (path, blob id): between two revisions only the files whose content changed are
parsed and validated again, which is what makes a plan after a one-file commit cheap. Cross-file checks
(duplicate objects, taskIDs shared between jobs) run on every build; they work on the cached results. With a
``ParseCacheFile`` (``reconciler.plan.parse_cache``) the cache outlives the process: a CLI run after the first
parses only what changed since.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from reconciler.load.entries import unreadable
from reconciler.model import ObjectRef, Resource
from reconciler.plan import ownership as own
from reconciler.plan.crossfile_cache import CrossFileCache
from reconciler.plan.model import DesiredState
from reconciler.plan.parse_cache import Key, ParseCacheFile
from reconciler.plan.validation_seam import Checked, check_file
from reconciler.validate import Options


class ManifestFile(Protocol):
    """What a source hands over for each file (``reconciler.source.SourceFile`` is one)."""

    @property
    def path(self) -> str: ...

    @property
    def digest(self) -> str: ...

    def read(self) -> bytes: ...


FREEZE_AFTER = 500  # files parsed in one build
CROSS_FILE_SAVE_AFTER = 20  # files parsed in one build before the cross-file state on disk is rewritten


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Parsing and planning allocate many small objects that mostly live on (the cache, the plan): the cyclic
    GC would rescan them over and over, which costs more than the work itself on a large source."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class _Cached:
    """One file's result: what the validator said, and per object its ref and spec hash (computed once)."""

    checked: Checked
    hashes: tuple[str, ...]
    refs: tuple[ObjectRef, ...] = ()

    @classmethod
    def of(cls, checked: Checked) -> _Cached:
        objs = checked.objects
        return cls(checked, tuple(own.spec_hash(o.spec) for o in objs), tuple(o.ref for o in objs))


class DesiredStateBuilder:
    """Keeps the per-file cache between builds; one per source. ``persist``: the cache on disk, read on the
    first build and written after each build that parsed something."""

    def __init__(self, options: Options | None = None, persist: ParseCacheFile | None = None) -> None:
        self.options = options
        self._cache: dict[Key, _Cached] = {}
        self.parsed_last = 0  # files parsed (not served from the cache) by the last build
        self.cross_file = CrossFileCache()
        self.persist = persist
        self._persisted = False  # the cache on disk was read (it is, once, on the first build)

    def build(
        self,
        source_id: str,
        revision: str,
        files: Iterable[ManifestFile],
        problems: Iterable[tuple[str, str]] = (),
    ) -> DesiredState:
        state = DesiredState(source_id, revision)
        cache: dict[Key, _Cached] = {}
        checked: list[Checked] = []
        digests: list[str] = []
        self.parsed_last = 0
        with paused_gc():
            loaded = 0
            loaded_now = self.persist is not None and not self._persisted  # the first build of the process
            if loaded_now:
                files = list(files)
                loaded = self._load_persisted([(f.path, f.digest) for f in files])
                if loaded >= FREEZE_AFTER:
                    gc.freeze()  # long-lived, and no garbage yet: out of the collector's sight at once
            known = self._cache
            self._collect(files, state, cache, checked, digests)
            self._cache = cache
            for path, message in problems:
                state.held_paths[path] = message
                state.file_count += 1
                state.yields.pop(path, None)
            for ref, (path, why) in self.cross_file.errors(checked, digests, self.options).items():
                state.held_refs[ref] = why
                state.held_ref_paths[ref] = path
            for ref in state.held_refs:
                state.objects.pop(ref, None)
                state.spec_hashes.pop(ref, None)
            if self.persist is not None and self.parsed_last:
                new = {k: v for k, v in cache.items() if k not in known}
                # the cross-file state is large: written after a large change only (a later process
                # starting from an older state checks the files changed since, as a build here does)
                cross = self.cross_file if self.parsed_last > CROSS_FILE_SAVE_AFTER or loaded_now else None
                self.persist.save(new, cache.keys(), cross)
        if self.parsed_last >= FREEZE_AFTER:
            # The cache is long-lived: move it out of the GC's sight, so later (incremental) plans stay cheap.
            gc.collect()
            gc.freeze()
        return state

    def checked(self, path: str, digest: str) -> Checked | None:
        """The validator's result for one file of the last build (None if it was not in it)."""
        entry = self._cache.get((path, digest))
        return None if entry is None else entry.checked

    def cached_objects(self, path: str, digest: str) -> list[tuple[Resource, str]]:
        """The objects (with their spec hashes) of one file's cached parse, from memory or the parse cache on
        disk; empty when it is in neither (the caller then parses or plans in full)."""
        entry = self._cache.get((path, digest))
        if entry is None and self.persist is not None:
            found = self.persist.get([(path, digest)]).get((path, digest))
            entry = found if isinstance(found, _Cached) and found.checked.path == path else None
        if entry is None or len(entry.hashes) != len(entry.checked.objects):
            return []
        return list(zip(entry.checked.objects, entry.hashes, strict=True))

    def remember(self, checked: dict[str, Checked], digests: dict[str, str]) -> None:
        """Keep files parsed outside a build (an incremental plan's) in the parse cache on disk, so a later
        full build need not parse them again."""
        if self.persist is not None and checked:
            self.persist.save({(p, digests[p]): _Cached.of(c) for p, c in checked.items()}, None)

    def _load_persisted(self, keys: list[Key]) -> int:
        """Fill the cache from disk; returns how many entries were read."""
        assert self.persist is not None
        self._persisted = True
        entries, cross = self.persist.load(keys)
        for key, entry in entries.items():
            if (
                isinstance(entry, _Cached)
                and entry.checked.path == key[0]
                and len(entry.refs) == len(entry.hashes) == len(entry.checked.objects)
            ):
                self._cache.setdefault(key, entry)
        if isinstance(cross, CrossFileCache) and not self.cross_file.checked_last:
            self.cross_file = cross
        return len(entries)

    def _collect(
        self,
        files: Iterable[ManifestFile],
        state: DesiredState,
        cache: dict[Key, _Cached],
        checked: list[Checked],
        digests: list[str],
    ) -> None:
        for f in files:
            key = (f.path, f.digest)
            entry = self._cache.get(key)
            if entry is None:
                self.parsed_last += 1
                try:
                    data = f.read()
                except OSError as exc:
                    # the rule and words validate gives an unreadable file (IO001): it vanished or was locked
                    state.held_paths[f.path] = str(unreadable(exc.strerror or str(exc)))
                    state.file_count += 1
                    continue
                entry = _Cached.of(check_file(f.path, data, self.options))
            cache[key] = entry
            checked.append(entry.checked)
            digests.append(f.digest)
            state.file_count += 1
            for ref, obj, digest in zip(entry.refs, entry.checked.objects, entry.hashes, strict=True):
                state.objects[ref] = obj
                state.spec_hashes[ref] = digest
            for ref, why in entry.checked.held_refs.items():
                state.held_refs[ref] = why
                state.held_ref_paths[ref] = f.path
            state.yields[f.path] = len(entry.checked.objects) + len(entry.checked.held_refs)
            if entry.checked.file_error:
                state.held_paths[f.path] = entry.checked.file_error
