"""validate_paths and stream_paths: discover, read and validate many files, optionally on several cores and
with the result cache (``reconciler.validate.outcomes``), with the cross-file rules applied as the files come.

Memory stays flat in the number of files: each file's documents are dropped once its findings and its few
cross-file facts are taken; the cross-file rules keep only their index (``CrossFileIndex``); and a file's
findings are handed on as soon as they are final, so a caller that prints them keeps none. A file's findings
are final once every AppImage its tasks name is defined, or the input has ended (XF003): with the AppImages
after the jobs (``validate jobs/ appimages/``), the findings of the files in between wait (not their
documents).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain, islice, pairwise
from typing import TYPE_CHECKING

from reconciler.load.discover import DiscoveredFile, Discovery, discover
from reconciler.model import ObjectRef
from reconciler.validate.crossfile import CrossFileIndex
from reconciler.validate.findings import Finding
from reconciler.validate.outcomes import (
    CHUNK,
    MIN_CACHED_FILES,
    MIN_PARALLEL_FILES,
    Outcome,
    check_here,
    check_source,
    is_readable,
    items,
    parallel,
)
from reconciler.validate.result import Facts, Options, Place, Report, Totals
from reconciler.validate.spill import Spill, SpilledSeen

if TYPE_CHECKING:
    from reconciler.validate.result_cache import ResultCache


class FileFindings:
    """One file's findings, final and in report order (by line, column, rule). (Plain classes here: a
    dataclass costs every start-up of ``kgitops validate``.)"""

    __slots__ = ("path", "findings")

    def __init__(self, path: str, findings: list[Finding]) -> None:
        self.path = path
        self.findings = findings

    def __repr__(self) -> str:
        return f"FileFindings({self.path!r}, {len(self.findings)} findings)"


class _Pending:
    __slots__ = ("path", "findings", "waits")

    def __init__(self, path: str, findings: list[Finding], waits: int) -> None:
        self.path = path
        self.findings = findings
        self.waits = waits  # references to AppImages not defined yet


def _in_file(f: Finding) -> tuple[int, int, str]:
    return (f.line, f.column, f.rule)


class Validation:
    """A validation run over discovered files. Iterating it checks the files and yields each file's findings
    (``FileFindings``, in input order, empty for a clean file) as soon as they are final; then ``totals``
    counts the whole input, and ``objects`` (kept only when ``keep_objects``) lists every object with where it
    is defined. The findings, in order, are exactly those of ``validate_paths``'s report.

    ``cache``: the file of the result cache (``reconciler.validate.result_cache``), used when the input has
    at least ``MIN_CACHED_FILES`` readable files; ``cache_hits`` and ``cache_misses`` then count its lookups
    (files whose result was read back, files checked)."""

    def __init__(
        self,
        sources: list[DiscoveredFile] | Discovery,
        options: Options | None = None,
        jobs: int = 1,
        keep_objects: bool = False,
        cache: str | None = None,
    ) -> None:
        self.sources = sources
        self.options = options or Options()
        self.jobs = jobs
        self.keep_objects = keep_objects
        self.cache = cache
        self.totals = Totals()
        self.objects: list[tuple[ObjectRef, Place]] = []
        self._cache: ResultCache | None = None

    @property
    def cache_hits(self) -> int:
        return self._cache.hits if self._cache is not None else 0

    @property
    def cache_misses(self) -> int:
        return self._cache.misses if self._cache is not None else 0

    def _outcomes(self, sources: Iterable[DiscoveredFile]) -> Iterator[Outcome]:
        """Each file's path, own findings and facts, in input order: checked here, by workers, or read from
        the result cache."""
        options, jobs = self.options, self.jobs
        it = iter(sources)
        want = CHUNK * jobs * 16 if jobs > 1 else 0  # enough to size the chunks, if not the whole input
        if self.cache is not None:
            want = max(want, MIN_CACHED_FILES)
        if not want:
            for source in it:
                yield check_source(source, options)
            return
        head = list(islice(it, want))
        readable = sum(1 for s in head if is_readable(s))
        while self.cache is not None and readable < MIN_CACHED_FILES and len(head) < 16 * want:
            more = next(it, None)  # (standard input, unreadable files: they do not count)
            if more is None:
                break
            head.append(more)
            readable += is_readable(more)
        it = chain(head, it)
        cache = None
        if self.cache is not None and readable >= MIN_CACHED_FILES:
            from reconciler.validate.result_cache import ResultCache

            cache = self._cache = ResultCache(self.cache, options)
        try:
            if jobs > 1 and readable >= MIN_PARALLEL_FILES:
                yield from parallel(items(it, options, cache), options, jobs, readable, cache)
            elif cache is not None:
                for item in items(it, options, cache):
                    yield check_here(item, options, cache)
            else:
                for source in it:
                    yield check_source(source, options)
        finally:
            if cache is not None:
                cache.close()

    def __iter__(self) -> Iterator[FileFindings]:
        sources = self.sources
        if isinstance(sources, Discovery) and sources.may_repeat:
            sources = sources.unique()  # a file named twice (or inside a named directory) is checked once
        elif not isinstance(sources, Discovery):
            # a file listed twice has its findings reported together: the whole input is looked at first
            sources = list(sources)
            ordered = sorted(s.path for s in sources)  # (a list of the paths, not a set of them: smaller)
            if any(a == b for a, b in pairwise(ordered)):
                del ordered
                yield from self._all_at_once(sources)
                return
            del ordered
        spill = Spill()
        try:
            yield from self._streamed(sources, CrossFileIndex(SpilledSeen(spill), SpilledSeen(spill)))
        finally:
            spill.close()

    def _streamed(self, sources: Iterable[DiscoveredFile], index: CrossFileIndex) -> Iterator[FileFindings]:
        pending: dict[int, _Pending] = {}
        queue: deque[int] = deque()
        for seq, (path, findings, facts) in enumerate(self._outcomes(sources)):
            entry = _Pending(path, findings, 0)
            pending[seq] = entry
            queue.append(seq)
            cross = self._index(index, facts, seq, pending)
            if cross:
                entry.findings = sorted(findings + cross, key=_in_file)
            while queue and pending[queue[0]].waits == 0:
                yield self._final(pending.pop(queue.popleft()))
        for wait in index.waiting():
            pending[wait.token].findings.append(wait.finding())
        while queue:
            entry = pending.pop(queue.popleft())
            entry.findings.sort(key=_in_file)
            yield self._final(entry)

    def _index(
        self, index: CrossFileIndex, facts: list[Facts], seq: int, pending: dict[int, _Pending]
    ) -> list[Finding]:
        cross: list[Finding] = []
        for f in facts:
            found, waits, settled = index.add(f, seq)
            cross += found
            pending[seq].waits += len(waits)
            for wait in settled:
                pending[wait.token].waits -= 1
            if self.keep_objects:
                self.objects.append((f.ref, f.place))
        self.totals.files += 1
        self.totals.objects += len(facts)
        return cross

    def _final(self, entry: _Pending) -> FileFindings:
        self.totals.add(entry.findings)
        return FileFindings(entry.path, entry.findings)

    def _all_at_once(self, sources: list[DiscoveredFile]) -> Iterator[FileFindings]:
        paths = [s.path for s in sources]
        index = CrossFileIndex()
        pending: dict[int, _Pending] = {}
        findings: list[Finding] = []
        for seq, (_, own, facts) in enumerate(self._outcomes(sources)):
            pending[seq] = _Pending(paths[seq], [], 0)
            findings += own
            findings += self._index(index, facts, seq, pending)
        findings += [wait.finding() for wait in index.waiting()]
        order = {p: i for i, p in enumerate(paths)}  # a path named twice sorts at its last place
        findings.sort(key=lambda f: (order.get(f.path, len(order)), f.line, f.column, f.rule))
        groups: dict[str, list[Finding]] = {}
        for f in findings:
            groups.setdefault(f.path, []).append(f)
        for path, group in groups.items():
            yield self._final(_Pending(path, group, 0))


def stream_paths(paths: list[str], options: Options | None = None, jobs: int = 1) -> Validation:
    """A ``Validation`` of every .yaml/.yml under ``paths`` (``-`` is stdin), to iterate; the files are found
    as they are checked. Raises PathNotFound for a missing path (at once, before any file is read)."""
    return Validation(Discovery(paths), options or Options(), jobs)


def validate_paths(paths: list[str], options: Options | None = None, jobs: int = 1) -> Report:
    """Validate every .yaml/.yml under ``paths`` (``-`` is stdin). Raises PathNotFound for a missing path."""
    run = Validation(discover(paths), options or Options(), jobs, keep_objects=True)
    report = Report()
    for batch in run:
        report.findings += batch.findings
    report.files = [s.path for s in run.sources]
    report.objects = run.objects
    return report
