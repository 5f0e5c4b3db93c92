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

from collections import deque
from collections.abc import Iterator

from reconciler.load.discover import DiscoveredFile, discover, read_source
from reconciler.model import ObjectRef
from reconciler.validate.crossfile import CrossFileIndex
from reconciler.validate.filecheck import _finding, validate_file
from reconciler.validate.findings import Finding
from reconciler.validate.result import Facts, Options, Place, Report, Totals

Outcome = tuple[str, list[Finding], list[Facts]]
# Files per task sent to a worker process: large enough that the pickling of a task is noise, small enough
# that both workers stay busy to the end.
_CHUNK = 64
# Below this many files, worker processes cost more to start than they save.
MIN_PARALLEL_FILES = 64


def check_source(source: DiscoveredFile, options: Options, data: bytes | None = None) -> Outcome:
    """Read (unless ``data`` is given) and validate one file, keeping only what the report needs."""
    content = data if data is not None else read_source(source, options.max_file_size)
    if isinstance(content, tuple):
        rule, message = content
        return source.path, [_finding(rule, message, source.path)], []
    result = validate_file(source.path, content, options)
    return source.path, result.findings, result.facts


# A worker process's share of the input, set once by _start_worker (a Pool initializer), so a task is only a
# range of indices.
_WORK: tuple[list[str], Options] = ([], Options())
# Facts as plain tuples, which pickle several times faster than dataclasses: (kind, namespace, name, line,
# column, taskIDs, images), each place (value, line, column); the path is the file's.
_PlainPlace = tuple[str, int, int]
_PlainFacts = tuple[str, str, str, int, int, tuple[_PlainPlace, ...], tuple[_PlainPlace, ...]]


def _start_worker(paths: list[str], options: Options) -> None:
    global _WORK
    _WORK = (paths, options)


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


def _check_range(bounds: tuple[int, int]) -> list[tuple[list[Finding], list[_PlainFacts]]]:
    paths, options = _WORK
    out = []
    for path in paths[bounds[0] : bounds[1]]:
        _, findings, facts = check_source(DiscoveredFile(path), options)
        out.append((findings, [_plain(f) for f in facts]))
    return out


def _parallel(sources: list[DiscoveredFile], options: Options, jobs: int) -> Iterator[Outcome]:
    """The outcomes in input order, the files on disk checked by ``jobs`` worker processes.

    The workers are spawned, never forked: a process with threads (watch, serve, an SDK caller's) can fork
    while another thread holds a lock, and the child waits on it forever. Spawned workers are this process's
    children, so their CPU time counts in its ``RUSAGE_CHILDREN`` (what ``time`` and the bench report)."""
    import multiprocessing

    readable = [s.path for s in sources if _readable(s)]
    chunk = max(1, min(_CHUNK, -(-len(readable) // (jobs * 8))))
    ranges = [(i, min(i + chunk, len(readable))) for i in range(0, len(readable), chunk)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, initializer=_start_worker, initargs=(readable, options)) as pool:
        batches = pool.imap(_check_range, ranges)
        batch: list[tuple[list[Finding], list[_PlainFacts]]] = []
        for source in sources:
            if not _readable(source):  # standard input, or a file found unreadable already
                yield check_source(source, options)
                continue
            if not batch:
                batch = next(batches)[::-1]
            findings, plain = batch.pop()
            yield source.path, findings, [_unplain(source.path, p) for p in plain]


def _readable(source: DiscoveredFile) -> bool:
    return not source.is_stdin and source.problem is None


def _outcomes(sources: list[DiscoveredFile], options: Options, jobs: int) -> Iterator[Outcome]:
    if jobs > 1 and sum(1 for s in sources if _readable(s)) >= MIN_PARALLEL_FILES:
        yield from _parallel(sources, options, jobs)
    else:
        for source in sources:
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
        sources: list[DiscoveredFile],
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
        paths = [s.path for s in self.sources]
        if len(set(paths)) != len(paths):  # a file named twice: its findings are reported together
            yield from self._all_at_once(paths)
            return
        index = CrossFileIndex()
        pending: dict[int, _Pending] = {}
        queue: deque[int] = deque()
        for seq, (path, findings, facts) in enumerate(_outcomes(self.sources, self.options, self.jobs)):
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

    def _all_at_once(self, paths: list[str]) -> Iterator[FileFindings]:
        index = CrossFileIndex()
        pending: dict[int, _Pending] = {}
        findings: list[Finding] = []
        for seq, (_, own, facts) in enumerate(_outcomes(self.sources, self.options, self.jobs)):
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
    """A ``Validation`` of every .yaml/.yml under ``paths`` (``-`` is stdin), to iterate. Raises PathNotFound
    for a missing path (at once, before any file is read)."""
    return Validation(discover(paths), options or Options(), jobs)


def validate_paths(paths: list[str], options: Options | None = None, jobs: int = 1) -> Report:
    """Validate every .yaml/.yml under ``paths`` (``-`` is stdin). Raises PathNotFound for a missing path."""
    run = Validation(discover(paths), options or Options(), jobs, keep_objects=True)
    report = Report()
    for batch in run:
        report.findings += batch.findings
    report.files = [s.path for s in run.sources]
    report.objects = run.objects
    return report
