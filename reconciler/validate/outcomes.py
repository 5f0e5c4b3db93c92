"""Each file's outcome (its path, own findings and cross-file facts), in input order: the file read and
checked by this process, by worker processes (``--workers``), or read back from the result cache
(``reconciler.validate.result_cache``). ``reconciler.validate.run`` applies the cross-file rules to them.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from reconciler.load.discover import DiscoveredFile, read_source
from reconciler.validate.filecheck import _finding, validate_file
from reconciler.validate.findings import Finding
from reconciler.validate.plain import PlainFacts, facts_of, plain_facts
from reconciler.validate.result import Facts, Options

if TYPE_CHECKING:
    from reconciler.validate.result_cache import ResultCache

Outcome = tuple[str, list[Finding], list[Facts]]
# Most files a task sends to the worker process: large enough that handing a task over is noise, small enough
# that the last ones keep both processes busy to the end.
CHUNK = 64
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
Item = Outcome | _Todo


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


def items(sources: Iterable[DiscoveredFile], options: Options, cache: ResultCache | None) -> Iterator[Item]:
    """The sources as outcomes (standard input and the files found unreadable, which are never cached; with a
    cache, the hits) and files to check."""
    for source in sources:
        if not is_readable(source):
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


def check_here(item: Item, options: Options, cache: ResultCache | None) -> Outcome:
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

    def __init__(self, items: list[Item], done: list[Outcome] | None, pending: Any) -> None:
        self.items = items
        self.done = done
        self.pending = pending


def parallel(
    stream: Iterable[Item], options: Options, jobs: int, readable: int, cache: ResultCache | None
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

    size = max(8, min(CHUNK, readable // (jobs * 16)))  # readable: at least the files in the first chunks
    chunks = _cut(stream, size)
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
                    window.append(_Chunk(part, [check_here(i, options, cache) for i in part], None))
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


def _cut(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """The items in consecutive lists of ``size`` to check (with the outcomes among them), or of ``16 * size``
    items when most are outcomes already (cache hits: they are not held back long)."""
    part: list[Item] = []
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


def is_readable(source: DiscoveredFile) -> bool:
    return not source.is_stdin and source.problem is None


