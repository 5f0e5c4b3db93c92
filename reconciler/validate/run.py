"""validate_paths: discover, read and validate many files, optionally on several cores, then cross-check.

Memory stays flat in the number of files: each file's documents and objects are dropped once its findings and
its few cross-file facts are taken.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

from reconciler.load.discover import DiscoveredFile, discover, read_source
from reconciler.validate.crossfile import check_facts
from reconciler.validate.filecheck import _finding, validate_file
from reconciler.validate.findings import Finding
from reconciler.validate.result import Facts, Options, Report

Outcome = tuple[str, list[Finding], list[Facts]]
_CHUNK = 32


def check_source(source: DiscoveredFile, options: Options, data: bytes | None = None) -> Outcome:
    """Read (unless ``data`` is given) and validate one file, keeping only what the report needs."""
    content = data if data is not None else read_source(source, options.max_file_size)
    if isinstance(content, tuple):
        rule, message = content
        return source.path, [_finding(rule, message, source.path)], []
    result = validate_file(source.path, content, options)
    return source.path, result.findings, result.facts


def _worker(args: tuple[DiscoveredFile, Options]) -> Outcome:
    return check_source(*args)


def _outcomes(sources: list[DiscoveredFile], options: Options, jobs: int) -> Iterator[Outcome]:
    stdin_data = {s.path: read_source(s, options.max_file_size) for s in sources if s.is_stdin}
    if jobs <= 1 or len(sources) < 2 * _CHUNK:
        for s in sources:
            data = stdin_data.get(s.path)
            if isinstance(data, tuple):
                yield s.path, [_finding(data[0], data[1], s.path)], []
            else:
                yield check_source(s, options, data)
        return
    on_disk = [s for s in sources if not s.is_stdin]
    for s in sources:
        if s.is_stdin:
            data = stdin_data[s.path]
            yield (
                (s.path, [_finding(data[0], data[1], s.path)], [])
                if isinstance(data, tuple)
                else check_source(s, options, data)
            )
    # Never plain fork: a process with threads (watch, serve, an SDK caller's) can fork while another thread
    # holds a lock, and the child waits on it forever. forkserver forks from a clean single-threaded server
    # that has imported the validator once.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload([__name__])
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(_worker, [(s, options) for s in on_disk], chunksize=_CHUNK)


def validate_paths(paths: list[str], options: Options | None = None, jobs: int = 1) -> Report:
    """Validate every .yaml/.yml under ``paths`` (``-`` is stdin). Raises PathNotFound for a missing path."""
    options = options or Options()
    sources = discover(paths)
    report = Report()
    facts: list[Facts] = []
    for path, findings, file_facts in _outcomes(sources, options, jobs):
        report.files.append(path)
        report.findings.extend(findings)
        facts.extend(file_facts)
    report.findings.extend(check_facts(facts))
    report.objects = [(f.ref, f.place) for f in facts]
    order = {p: i for i, p in enumerate(report.files)}
    report.findings.sort(key=lambda f: (order.get(f.path, len(order)), f.line, f.column, f.rule))
    return report
