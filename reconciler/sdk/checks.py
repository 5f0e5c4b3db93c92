"""Checking manifests without a backend: ``validate`` (every rule of ``kgitops validate``) and ``simulate``
(a KusciaJob through the engine's real controller with a simulated runtime, step by step).

Errors are ``reconciler.errors.UsageError`` (exit 2): a path that does not exist, an unreadable file, a
``job``/``given``/``fail``/events value that does not fit the file. Findings are results, not errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import KgitopsError, UsageError
from reconciler.model.objects import KUSCIA_JOB

if TYPE_CHECKING:
    from reconciler.engine.simulate import Simulation
    from reconciler.validate import Finding, Report, Validation

__all__ = ["SimulationRun", "simulate", "validate", "validate_stream"]


def validate(
    paths: list[str],
    lenient: bool = False,
    reject_unknown_kinds: bool = False,
    max_file_size: int | None = None,
    workers: int = 1,
    cache: bool | str | os.PathLike[str] = False,
) -> Report:
    """Validate every ``.yaml``/``.yml`` under ``paths`` (files or directories; ``-`` is standard input).

    ``lenient``: unknown fields are warnings; ``reject_unknown_kinds``: kinds other than KusciaJob,
    KusciaTask and AppImage are errors; ``max_file_size`` (bytes, default 5 MiB): larger files are reported,
    not parsed; ``workers``: processes (0: one per CPU; used from 64 files on; they are spawned, so a script
    that asks for more than one needs Python's ``if __name__ == "__main__":`` guard); ``cache``: keep each
    file's result and read it back while its bytes stay the same (True: the user's cache,
    ``$XDG_CACHE_HOME/kgitops/validate-cache.sqlite``; or a file's path; default off, as for
    ``kgitops validate --no-cache``; the same report either way). ``report.exit_code`` is 0 (no error
    findings) or 1. A missing path raises ``UsageError``."""
    from reconciler.validate import Report

    run = validate_stream(
        paths, lenient, reject_unknown_kinds, max_file_size, workers, keep_objects=True, cache=cache
    )
    report = Report(files=[s.path for s in run.sources], objects=run.objects)
    for batch in run:
        report.findings += batch.findings
    return report


def validate_stream(
    paths: list[str],
    lenient: bool = False,
    reject_unknown_kinds: bool = False,
    max_file_size: int | None = None,
    workers: int = 1,
    keep_objects: bool = False,
    cache: bool | str | os.PathLike[str] = False,
) -> Validation:
    """``validate``, with each file's findings handed over as soon as they are final, so that a run over any
    number of files keeps none of them: iterate the returned ``Validation`` for ``FileFindings`` (path,
    findings in report order), then read ``totals`` (files, objects, errors, warnings, notes; ``exit_code``)
    and, with ``cache``, ``cache_hits``/``cache_misses`` (files read back, files checked; both 0 below 32
    files, where the cache is not used). ``keep_objects``: also keep every object and where it is defined
    (``objects``, for a JUnit report). A missing path raises ``UsageError`` here, before any file is read."""
    from reconciler.validate import (
        DEFAULT_MAX_FILE_SIZE,
        Discovery,
        Options,
        PathNotFound,
        Validation,
        discover,
    )

    options = Options(
        lenient=lenient,
        reject_unknown_kinds=reject_unknown_kinds,
        max_file_size=DEFAULT_MAX_FILE_SIZE if max_file_size is None else max_file_size,
    )
    try:  # a streamed run finds the files as it checks them: it never holds a list of them
        sources = discover(list(paths)) if keep_objects else Discovery(list(paths))
    except PathNotFound as exc:
        raise UsageError(f"{exc.args[0]}: no such file or directory") from None
    jobs = workers or (os.cpu_count() or 1)
    return Validation(sources, options, jobs, keep_objects=keep_objects, cache=_cache_file(cache))


def _cache_file(cache: bool | str | os.PathLike[str]) -> str | None:
    """The result cache's file: the user's for True (None when there is no home to keep it in)."""
    if cache is True:
        from reconciler.validate.result_cache import default_path

        return default_path()
    return os.fspath(cache) if cache else None


@dataclass(frozen=True)
class SimulationRun:
    """Either ``simulation`` (the steps; ``final_phase`` the job's last phase) with the ``warnings`` about
    the job, or, when the file is not valid, ``invalid``: the validation report that holds the job back."""

    simulation: Simulation | None
    warnings: list[Finding] = field(default_factory=list)
    invalid: Report | None = None

    @property
    def final_phase(self) -> str:
        steps = self.simulation.steps if self.simulation is not None else []
        return steps[-1].phase if steps else ""

    @property
    def failed(self) -> bool:
        """Whether the job ends Failed (``JobPhase.FAILED``)."""
        from reconciler.model.phases import JobPhase  # loaded already by the simulation

        return self.final_phase == JobPhase.FAILED


def _checked_job(
    path: Path, name: str | None, max_file_size: int
) -> tuple[dict[str, Any] | None, list[Finding], Report | None]:
    from reconciler.load.files import TOO_LARGE, FileReadError, read_bounded
    from reconciler.validate import Finding, Place, Report, Severity, check_cross_file, validate_file

    try:
        data = read_bounded(path, max_file_size)
    except FileReadError as exc:
        hint = " (raise it with --max-file-size)" if exc.rule == TOO_LARGE else ""
        raise UsageError(f"{path}: {exc.message}{hint}") from None
    result = validate_file(str(path), data)
    findings = result.findings + check_cross_file([result])
    jobs = [d for d in result.documents if d.kind == KUSCIA_JOB]
    names = [d.ref.name if d.ref else "" for d in jobs]
    picked = None
    if not any(f.is_error and f.ref is None for f in findings):  # a file-level error holds every job
        if not jobs:
            raise UsageError(f"{path}: no {KUSCIA_JOB} in this file")
        if name is None and len(jobs) > 1:
            raise UsageError(
                f"{path}: {len(jobs)} {KUSCIA_JOB}s in this file ({', '.join(names)})",
                hint="pick one with --job",
            )
        if name is not None and name not in names:
            raise UsageError(f"{path}: no {KUSCIA_JOB} named {name!r} (jobs here: {', '.join(names)})")
        picked = jobs[0] if name is None else jobs[names.index(name)]
    # what concerns the job: its own findings, the whole file's, and the cross-object ones naming it (XF002:
    # another job of the file claims one of its taskIDs; one of the two would fail)
    mine = [
        f
        for f in findings
        if f.ref is None or (picked is not None and picked.ref in (f.ref, *f.involves))
    ]
    if picked is None or any(f.is_error for f in mine):
        report = Report(files=[str(path)], findings=sorted(mine, key=Finding.sort_key))
        report.objects = [(d.ref, Place(d.ref.name, str(path), d.line, d.column)) for d in jobs if d.ref]
        return None, [], report
    doc = picked.document.data
    assert isinstance(doc, dict)
    # Warnings do not stop a simulation; XF003 (an AppImage not in the file) does not concern one.
    return doc, [f for f in mine if f.severity is Severity.WARNING and f.rule != "XF003"], None


def _load_events(path: Path, max_file_size: int) -> list[dict[str, str]]:
    import yaml

    from reconciler.engine.simulate import SimulationError, parse_event
    from reconciler.load.files import TOO_LARGE, FileReadError, read_bounded

    try:
        text = read_bounded(path, max_file_size).decode("utf-8")
    except FileReadError as exc:
        hint = " (raise it with --max-file-size)" if exc.rule == TOO_LARGE else ""
        raise UsageError(f"{path}: {exc.message}{hint}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: the file is not UTF-8 text") from None
    try:
        docs = [
            yaml.safe_load(yaml.serialize(n)) for n in yaml.compose_all(text, Loader=yaml.SafeLoader) if n
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{pos}: not valid YAML ({exc.problem or exc})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({exc})") from None
    data = docs[0] if docs else []
    if data is None:
        data = []
    if not isinstance(data, list):
        raise UsageError(
            f"{path}: the events file must be a YAML list of {{task: ALIAS, phase: P}} or {{stage: S}} items"
        )
    try:
        return [parse_event(e, f"{path}: event {i + 1}") for i, e in enumerate(data)]
    except SimulationError as exc:
        raise UsageError(str(exc)) from None


def simulate(
    file: str | Path,
    job: str | None = None,
    given: dict[str, str] | None = None,
    events_file: str | Path | None = None,
    fail: set[str] | frozenset[str] = frozenset(),
    max_file_size: int | None = None,
) -> SimulationRun:
    """Run ``file``'s KusciaJob (``job`` names it when the file holds several) from Running: each step applies
    one event and reconciles until nothing changes. ``given``: alias -> phase of tasks that already exist;
    ``events_file``: a YAML list of ``{task: ALIAS, phase: P}`` / ``{stage: S}``; without it every created
    task succeeds in creation order, except the aliases in ``fail``. The file is validated first; one that is
    not a regular file or is larger than ``max_file_size`` (bytes, default 5 MiB) is a ``UsageError``."""
    from reconciler.engine.simulate import InvalidJob, SimulationError
    from reconciler.engine.simulate import simulate as run_simulation

    path = Path(file)
    from reconciler.validate import DEFAULT_MAX_FILE_SIZE

    limit = DEFAULT_MAX_FILE_SIZE if max_file_size is None else max_file_size
    manifest, warnings, invalid = _checked_job(path, job, limit)
    if manifest is None:
        return SimulationRun(None, invalid=invalid)
    aliases = {str(t.get("alias")) for t in manifest["spec"]["tasks"]}
    unknown = sorted(set(fail) - aliases)
    if unknown:
        raise UsageError(
            f"--fail {', '.join(unknown)}: no such task alias (tasks: {', '.join(sorted(aliases))})"
        )
    events = _load_events(Path(events_file), limit) if events_file is not None else None
    if events is not None and fail:
        raise UsageError("--fail only applies without --events; script the failures as events instead")
    try:
        sim = run_simulation(manifest, dict(given or {}), events, set(fail))
    except InvalidJob as exc:
        raise KgitopsError(f"{path}: {exc}", exit_code=1) from None
    except SimulationError as exc:  # what --given asks for does not fit the job
        raise UsageError(f"{path}: {exc}") from None
    return SimulationRun(sim, warnings)
