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
from collections.abc import Iterable, Iterator
from itertools import chain, islice, pairwise
from typing import Any

from reconciler.load.discover import DiscoveredFile, Discovery, discover, read_source
from reconciler.model import ObjectRef
from reconciler.validate.crossfile import CrossFileIndex
from reconciler.validate.filecheck import _finding, validate_file
from reconciler.validate.findings import Finding
from reconciler.validate.result import Facts, Options, Place, Report, Totals
from reconciler.validate.spill import Spill, SpilledSeen

Outcome = tuple[str, list[Finding], list[Facts]]
# Most files a task sends to the worker process: large enough that handing a task over is noise, small enough
# that the last ones keep both processes busy to the end.
_CHUNK = 64
# Below this many files, a worker process costs more to start than it saves.
MIN_PARALLEL_FILES = 64


def check_source(source: DiscoveredFile, options: Options, data: bytes | None = None) -> Outcome:
    """Read (unless ``data`` is given) and validate one file, keeping only what the report needs."""
    content = data if data is not None else read_source(source, options.max_file_size)
    if isinstance(content, tuple):
        rule, message = content
        return source.path, [_finding(rule, message, source.path)], []
    result = validate_file(source.path, content, options)
    return source.path, result.findings, result.facts


# A worker process's options, set once by _start_worker (a Pool initializer), so a task is only its paths.
_OPTIONS = Options()
# Facts as plain tuples, which pickle several times faster than dataclasses: (kind, namespace, name, line,
# column, taskIDs, images), each place (value, line, column); the path is the file's.
_PlainPlace = tuple[str, int, int]
_PlainFacts = tuple[str, str, str, int, int, tuple[_PlainPlace, ...], tuple[_PlainPlace, ...]]
_Checked = list[tuple[list[Finding], list[_PlainFacts]]]


def _start_worker(options: Options) -> None:
    global _OPTIONS
    _OPTIONS = options
    # a worker process only checks files: their objects are short-lived and acyclic (see the validate command)
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])


def _plain(facts: Facts) -> _PlainFacts:
    ref, place = facts.ref, facts.place
    return (
        ref.kind,
        ref.namespace,
        ref.name,
        place.line,
        place.column,
        tuple((p.value, p.line, p.column) for p in facts.task_ids),
        tuple((p.value, p.line, p.column) for p in facts.app_images),
    )


def _unplain(path: str, plain: _PlainFacts) -> Facts:
    kind, namespace, name, line, column, task_ids, images = plain
    return Facts(
        ObjectRef(kind, namespace, name),
        Place(name, path, line, column),
        tuple(Place(v, path, ln, col) for v, ln, col in task_ids),
        tuple(Place(v, path, ln, col) for v, ln, col in images),
    )


def _check_paths(paths: list[str]) -> _Checked:
    """A worker's task: the files at ``paths``, checked."""
    out = []
    for path in paths:
        _, findings, facts = check_source(DiscoveredFile(path), _OPTIONS)
        out.append((findings, [_plain(f) for f in facts]))
    return out


class _Chunk:
    """Consecutive sources, checked by this process (``done``) or by a worker (``pending``)."""

    __slots__ = ("sources", "done", "pending")

    def __init__(self, sources: list[DiscoveredFile], done: list[Outcome] | None, pending: Any) -> None:
        self.sources = sources
        self.done = done
        self.pending = pending


def _parallel(
    sources: Iterable[DiscoveredFile], options: Options, jobs: int, readable: int
) -> Iterator[Outcome]:
    """The outcomes in input order, the files checked by this process and ``jobs - 1`` worker processes.

    The input is cut into chunks, taken in order. The workers are kept two chunks ahead; this process checks
    the next chunk itself whenever the oldest one a worker has is not back yet, so both stay busy to the end
    and no file is sent anywhere that this process can check at once. The workers are spawned, never forked:
    a process with threads (watch, serve, an SDK caller's) can fork while another thread holds a lock, and the
    child waits on it forever. Spawned workers are this process's children, so their CPU time counts in its
    ``RUSAGE_CHILDREN`` (what ``time`` and the bench report)."""
    import multiprocessing

    size = max(8, min(_CHUNK, readable // (jobs * 16)))  # readable: at least the files in the first chunks
    chunks = _cut(sources, size)
    ahead = 2 * (jobs - 1)  # chunks a worker may hold
    window: deque[_Chunk] = deque()
    sent = 0
    with multiprocessing.get_context("spawn").Pool(jobs - 1, _start_worker, (options,)) as pool:
        while True:
            while sent < ahead:
                part = next(chunks, None)
                if part is None:
                    break
                paths = [s.path for s in part if _readable(s)]
                window.append(_Chunk(part, None, pool.apply_async(_check_paths, (paths,))))
                sent += 1
            if not window:
                return
            head = window[0]
            if head.done is None and not head.pending.ready() and len(window) < 4 * ahead:
                part = next(chunks, None)
                if part is not None:  # the worker is busy: take the next chunk here
                    window.append(_Chunk(part, [check_source(s, options) for s in part], None))
                    continue
            window.popleft()
            if head.done is not None:
                yield from head.done
                continue
            sent -= 1
            checked: _Checked = head.pending.get()[::-1]
            for source in head.sources:
                if not _readable(source):  # standard input, or a file found unreadable already
                    yield check_source(source, options)
                    continue
                findings, plain = checked.pop()
                yield source.path, findings, [_unplain(source.path, p) for p in plain]


def _cut(sources: Iterable[DiscoveredFile], size: int) -> Iterator[list[DiscoveredFile]]:
    """The sources in consecutive lists of ``size`` readable ones (with any unreadable ones among them)."""
    part: list[DiscoveredFile] = []
    count = 0
    for source in sources:
        part.append(source)
        if _readable(source):
            count += 1
            if count == size:
                yield part
                part, count = [], 0
    if part:
        yield part


def _readable(source: DiscoveredFile) -> bool:
    return not source.is_stdin and source.problem is None


def _outcomes(sources: Iterable[DiscoveredFile], options: Options, jobs: int) -> Iterator[Outcome]:
    it = iter(sources)
    if jobs > 1:
        head = list(islice(it, _CHUNK * jobs * 16))  # enough to size the chunks, if not the whole input
        readable = sum(1 for s in head if _readable(s))
        if readable >= MIN_PARALLEL_FILES:
            yield from _parallel(chain(head, it), options, jobs, readable)
            return
        it = chain(head, it)
    for source in it:
        yield check_source(source, options)


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
    is defined. The findings, in order, are exactly those of ``validate_paths``'s report."""

    def __init__(
        self,
        sources: list[DiscoveredFile] | Discovery,
        options: Options | None = None,
        jobs: int = 1,
        keep_objects: bool = False,
    ) -> None:
        self.sources = sources
        self.options = options or Options()
        self.jobs = jobs
        self.keep_objects = keep_objects
        self.totals = Totals()
        self.objects: list[tuple[ObjectRef, Place]] = []

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
        for seq, (path, findings, facts) in enumerate(_outcomes(sources, self.options, self.jobs)):
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
        for seq, (_, own, facts) in enumerate(_outcomes(sources, self.options, self.jobs)):
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
