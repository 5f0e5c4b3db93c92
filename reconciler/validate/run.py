"""validate_paths and stream_paths: discover, read and validate many files, optionally on several cores, with
the cross-file rules applied as the files come.

Memory stays flat in the number of files: each file's documents are dropped once its findings and its few
cross-file facts are taken; the cross-file rules keep only their index (``CrossFileIndex``); and a file's
findings are handed on as soon as they are final, so a caller that prints them keeps none. A file's findings
are final once every AppImage its tasks name is defined, or the input has ended (XF003): with the AppImages
after the jobs (``validate jobs/ appimages/``), the findings of the files in between wait (not their
documents).
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from itertools import chain, islice, pairwise
from typing import TYPE_CHECKING, Any

from reconciler.load.discover import DiscoveredFile, Discovery, discover, read_source
from reconciler.model import ObjectRef
from reconciler.validate.crossfile import CrossFileIndex
from reconciler.validate.filecheck import _finding, validate_file
from reconciler.validate.findings import Finding
from reconciler.validate.plain import PlainFacts, facts_of, plain_facts
from reconciler.validate.result import Facts, Options, Place, Report, Totals
from reconciler.validate.spill import Spill, SpilledSeen

if TYPE_CHECKING:
    from reconciler.validate.result_cache import ResultCache

Outcome = tuple[str, list[Finding], list[Facts]]
# Most files a task sends to the worker process: large enough that handing a task over is noise, small enough
# that the last ones keep both processes busy to the end.
_CHUNK = 64
# Below this many files, a worker process costs more to start than it saves.
MIN_PARALLEL_FILES = 64
# Below this many readable files a run goes without the result cache: opening it (SQLite and hashlib
# imported, the file opened: about 5-8 ms) costs more than it can save (`kgitops validate one.yaml` stays
# a fast start).
MIN_CACHED_FILES = 32


class _Todo:
    """A file still to be checked, with its bytes and their result cache key when this process has read them
    already (a cache lookup that missed)."""

    __slots__ = ("source", "data", "key")

    def __init__(self, source: DiscoveredFile, data: bytes | None = None, key: bytes | None = None) -> None:
        self.source = source
        self.data = data
        self.key = key


# what the files come as: an outcome known already (a cache hit, a file that cannot be read) or one to check
_Item = Outcome | _Todo


def check_source(
    source: DiscoveredFile, options: Options, data: bytes | tuple[str, str] | None = None
) -> Outcome:
    """Read (unless ``data``, what ``read_source`` returned, is given) and validate one file, keeping only
    what the report needs."""
    content = data if data is not None else read_source(source, options.max_file_size)
    if isinstance(content, tuple):
        rule, message = content
        return source.path, [_finding(rule, message, source.path)], []
    result = validate_file(source.path, content, options)
    return source.path, result.findings, result.facts


# A worker process's options, set once by _start_worker (a Pool initializer), so a task is only its paths;
# _KEY: with the result cache, the key of each file it checks (the parent stores what the workers found).
_OPTIONS = Options()
_KEY: Callable[[str, bytes], bytes | None] | None = None
# per file: (its cache key or None, its findings, its facts as plain tuples, which pickle several times
# faster than Facts)
_Checked = list[tuple[bytes | None, list[Finding], list[PlainFacts]]]


def _start_worker(options: Options, fingerprint: str | None) -> None:
    global _OPTIONS, _KEY
    _OPTIONS = options
    if fingerprint is not None:
        from reconciler.validate.result_cache import keyer

        _KEY = keyer(fingerprint)
    # a worker process only checks files: their objects are short-lived and acyclic (see the validate command)
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])


def _check_paths(paths: list[str]) -> _Checked:
    """A worker's task: the files at ``paths``, checked, each with the cache key of the bytes checked here (if
    a file changed since the parent looked it up, its result is kept under what it is now)."""
    out: _Checked = []
    for path in paths:
        source = DiscoveredFile(path)
        content = read_source(source, _OPTIONS.max_file_size)
        _, findings, facts = check_source(source, _OPTIONS, content)
        key = _KEY(path, content) if _KEY is not None and isinstance(content, bytes) else None
        out.append((key, findings, [plain_facts(f) for f in facts]))
    return out


def _items(sources: Iterable[DiscoveredFile], options: Options, cache: ResultCache | None) -> Iterator[_Item]:
    """The sources as outcomes (standard input and the files found unreadable, which are never cached; with a
    cache, the hits) and files to check."""
    for source in sources:
        if not _readable(source):
            yield check_source(source, options)
        elif cache is None:
            yield _Todo(source)
        else:
            content = read_source(source, options.max_file_size)
            key = cache.key(source.path, content) if isinstance(content, bytes) else None
            if key is None or not isinstance(content, bytes):  # not read, or binary: never cached
                yield check_source(source, options, content)
                continue
            hit = cache.lookup(key, source.path)
            yield (source.path, *hit) if hit is not None else _Todo(source, content, key)


def _check_here(item: _Item, options: Options, cache: ResultCache | None) -> Outcome:
    """``item``'s outcome, the file checked by this process (and its result stored, with a cache)."""
    if not isinstance(item, _Todo):
        return item
    outcome = check_source(item.source, options, item.data)
    if cache is not None and item.key is not None:
        cache.store(item.key, outcome[0], outcome[1], [plain_facts(f) for f in outcome[2]])
    return outcome


class _Chunk:
    """Consecutive items, checked by this process (``done``) or by a worker (``pending``)."""

    __slots__ = ("items", "done", "pending")

    def __init__(self, items: list[_Item], done: list[Outcome] | None, pending: Any) -> None:
        self.items = items
        self.done = done
        self.pending = pending


def _parallel(
    items: Iterable[_Item], options: Options, jobs: int, readable: int, cache: ResultCache | None
) -> Iterator[Outcome]:
    """The outcomes in input order, the files checked by this process and ``jobs - 1`` worker processes.

    The input is cut into chunks, taken in order. The workers are kept two chunks ahead; this process checks
    the next chunk itself whenever the oldest one a worker has is not back yet, so both stay busy to the end
    and no file is sent anywhere that this process can check at once. A chunk with nothing to check (all
    cache hits) goes to no one, and the workers start only when a chunk is first sent. The workers are
    spawned, never forked: a process with threads (watch, serve, an SDK caller's) can fork while another
    thread holds a lock, and the child waits on it forever. Spawned workers are this process's children, so
    their CPU time counts in its ``RUSAGE_CHILDREN`` (what ``time`` and the bench report)."""
    import multiprocessing

    size = max(8, min(_CHUNK, readable // (jobs * 16)))  # readable: at least the files in the first chunks
    chunks = _cut(items, size)
    ahead = 2 * (jobs - 1)  # chunks a worker may hold
    window: deque[_Chunk] = deque()
    sent = 0
    with ExitStack() as stack:
        pool = None
        while True:
            while sent < ahead:
                part = next(chunks, None)
                if part is None:
                    break
                paths = [i.source.path for i in part if isinstance(i, _Todo)]
                if not paths:
                    window.append(_Chunk(part, [i for i in part if not isinstance(i, _Todo)], None))
                    if len(window) >= 4 * ahead:
                        break  # hand those on first
                    continue
                if pool is None:
                    spawn = multiprocessing.get_context("spawn")
                    seed = cache.fingerprint if cache is not None else None
                    pool = stack.enter_context(spawn.Pool(jobs - 1, _start_worker, (options, seed)))
                for i in part:
                    if isinstance(i, _Todo):
                        i.data = None  # the worker reads the file itself
                window.append(_Chunk(part, None, pool.apply_async(_check_paths, (paths,))))
                sent += 1
            if not window:
                return
            head = window[0]
            if head.done is None and not head.pending.ready() and len(window) < 4 * ahead:
                part = next(chunks, None)
                if part is not None:  # the worker is busy: take the next chunk here
                    window.append(_Chunk(part, [_check_here(i, options, cache) for i in part], None))
                    continue
            window.popleft()
            if head.done is not None:
                yield from head.done
                continue
            sent -= 1
            checked: _Checked = head.pending.get()[::-1]
            for item in head.items:
                if not isinstance(item, _Todo):
                    yield item
                    continue
                key, findings, plain = checked.pop()
                path = item.source.path
                if cache is not None and key is not None:
                    cache.store(key, path, findings, plain)
                yield path, findings, [facts_of(path, p) for p in plain]


def _cut(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    """The items in consecutive lists of ``size`` to check (with the outcomes among them), or of ``16 * size``
    items when most are outcomes already (cache hits: they are not held back long)."""
    part: list[_Item] = []
    count = 0
    for item in items:
        part.append(item)
        if isinstance(item, _Todo):
            count += 1
        if count == size or len(part) == 16 * size:
            yield part
            part, count = [], 0
    if part:
        yield part


def _readable(source: DiscoveredFile) -> bool:
    return not source.is_stdin and source.problem is None


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

    ``cache``: the file of the result cache (``reconciler.validate.result_cache``), used when the input has at
    least ``MIN_FILES`` readable files; ``cache_hits`` and ``cache_misses`` then count its lookups (files
    whose result was read back, files checked)."""

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
        want = _CHUNK * jobs * 16 if jobs > 1 else 0  # enough to size the chunks, if not the whole input
        if self.cache is not None:
            want = max(want, MIN_CACHED_FILES)
        if not want:
            for source in it:
                yield check_source(source, options)
            return
        head = list(islice(it, want))
        readable = sum(1 for s in head if _readable(s))
        while self.cache is not None and readable < MIN_CACHED_FILES and len(head) < 16 * want:
            more = next(it, None)  # (standard input, unreadable files: they do not count)
            if more is None:
                break
            head.append(more)
            readable += _readable(more)
        it = chain(head, it)
        cache = None
        if self.cache is not None and readable >= MIN_CACHED_FILES:
            from reconciler.validate.result_cache import ResultCache

            cache = self._cache = ResultCache(self.cache, options)
        try:
            if jobs > 1 and readable >= MIN_PARALLEL_FILES:
                yield from _parallel(_items(it, options, cache), options, jobs, readable, cache)
            elif cache is not None:
                for item in _items(it, options, cache):
                    yield _check_here(item, options, cache)
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
