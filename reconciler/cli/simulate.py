"""``kgitops simulate``: what the engine would do with a job, step by step, without running anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.engine.simulate import InvalidJob, Simulation, SimulationError, parse_event
from reconciler.engine.simulate import simulate as run_simulation
from reconciler.output import render
from reconciler.output.text import where
from reconciler.validate import Finding, Place, Report, Severity, check_cross_file, validate_file


class UsageOrIOError(click.ClickException):
    """A wrong command line, or a file that cannot be read: exit 2 (validate's convention)."""

    exit_code = 2


def _load_docs(path: Path) -> list[tuple[int, Any]]:
    """The YAML documents of an events file, with the line each starts on."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageOrIOError(f"{path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UsageOrIOError(f"{path}: the file is not UTF-8 text") from None
    try:
        docs = []
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            docs.append((node.start_mark.line + 1, yaml.safe_load(yaml.serialize(node))))
        return docs
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageOrIOError(f"{path}{pos}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _validated_job(path: Path, name: str | None, output: str) -> tuple[dict[str, Any], list[Finding]]:
    """The KusciaJob to simulate, after ``kgitops validate``'s checks of the whole file.

    Findings that hold the job back (or the whole file) are printed as validate prints them, and the command
    exits 1; a file that cannot be read, or a --job that names no job, exits 2. Returns the job's manifest and
    the warnings about it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageOrIOError(f"{path}: cannot read the file ({exc.strerror})") from None
    result = validate_file(str(path), data)
    findings = result.findings + check_cross_file([result])
    jobs = [d for d in result.documents if d.kind == "KusciaJob"]
    names = [d.ref.name if d.ref else "" for d in jobs]
    picked = None
    if not any(f.is_error and f.ref is None for f in findings):  # a file-level error holds every job
        if not jobs:
            raise UsageOrIOError(f"{path}: no KusciaJob in this file")
        if name is None and len(jobs) > 1:
            raise UsageOrIOError(
                f"{path}: {len(jobs)} KusciaJobs in this file ({', '.join(names)}); pick one with --job"
            )
        if name is not None and name not in names:
            raise UsageOrIOError(f"{path}: no KusciaJob named {name!r} (jobs here: {', '.join(names)})")
        picked = jobs[0] if name is None else jobs[names.index(name)]
    mine = [f for f in findings if f.ref is None or (picked is not None and f.ref == picked.ref)]
    if picked is None or any(f.is_error for f in mine):
        report = Report(files=[str(path)], findings=sorted(mine, key=Finding.sort_key))
        report.objects = [(d.ref, Place(d.ref.name, str(path), d.line, d.column)) for d in jobs if d.ref]
        click.echo(render(report, "json" if output == "json" else "text"), nl=False)
        click.echo(f"kgitops simulate: {path} is not valid; nothing was simulated", err=True)
        sys.exit(1)
    doc = picked.document.data
    assert isinstance(doc, dict)
    # Warnings do not stop a simulation; XF003 (an AppImage not in the file) does not concern one.
    return doc, [f for f in mine if f.severity is Severity.WARNING and f.rule != "XF003"]


def _load_events(path: Path) -> list[dict[str, str]]:
    docs = _load_docs(path)
    data = docs[0][1] if docs else []
    if data is None:
        data = []
    if not isinstance(data, list):
        raise UsageOrIOError(
            f"{path}: the events file must be a YAML list of {{task: ALIAS, phase: P}} or {{stage: S}} items"
        )
    try:
        return [parse_event(e, f"{path}: event {i + 1}") for i, e in enumerate(data)]
    except SimulationError as exc:
        raise UsageOrIOError(str(exc)) from None


def _text(sim: Simulation) -> str:
    lines = [f"job {sim.job}"]
    for i, s in enumerate(sim.steps):
        if s.event is None:
            what = "start (job Running)"
        elif "stage" in s.event:
            what = f"stage {s.event['stage']}"
        else:
            what = f"task {s.event['task']} -> {s.event['phase']}"
        lines.append(f"step {i}: {what}")
        if s.note:
            lines.append(f"  note:    {s.note}")
        lines.append(f"  ready:   {', '.join(s.ready) or '-'}")
        lines.append(f"  created: {', '.join(s.created) or '-'}")
        if s.stopped:
            lines.append(f"  stopped: {', '.join(s.stopped)}")
        lines.append(f"  job:     {s.phase}")
        lines.append("  tasks:   " + ", ".join(f"{a}={p}" for a, p in s.views.items()))
    lines.append(f"never created: {', '.join(sim.never_created) or '-'}")
    return "\n".join(lines)


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--job", "job_name", help="Name of the KusciaJob when FILE holds several.")
@click.option("--given", multiple=True, metavar="ALIAS=PHASE", help="A task that already exists in PHASE.")
@click.option(
    "--events",
    "events_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML list of events: {task: ALIAS, phase: Running|Succeeded|Failed} "
    "or {stage: Stop|Cancel|Suspend|Restart}.",
)
@click.option(
    "--fail", "fail", multiple=True, metavar="ALIAS[,ALIAS]", help="Without --events: these tasks fail."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def simulate(
    file: Path,
    job_name: str | None,
    given: tuple[str, ...],
    events_file: Path | None,
    fail: tuple[str, ...],
    output: str,
) -> None:
    """Run FILE's KusciaJob through the engine's real controller with a simulated runtime.

    The job starts Running; each step applies one event and reconciles until nothing changes. Without
    --events every created task succeeds in creation order, except those named by --fail.

    FILE is validated first, as `kgitops validate` does. Exit 0 when the job does not end Failed, 1 when it
    does or when FILE is not valid (the findings are printed), 2 on a usage error or an unreadable file."""
    given_map: dict[str, str] = {}
    for g in given:
        alias, sep, phase = g.partition("=")
        if not sep or not alias:
            raise click.UsageError(f"--given {g!r}: write ALIAS=PHASE, e.g. --given psi=Succeeded")
        given_map[alias] = phase
    manifest, warnings = _validated_job(file, job_name, output)
    fails = {a.strip() for f in fail for a in f.split(",") if a.strip()}
    aliases = {str(t.get("alias")) for t in manifest["spec"]["tasks"]}
    unknown = sorted(fails - aliases)
    if unknown:
        raise click.UsageError(
            f"--fail {', '.join(unknown)}: no such task alias (tasks: {', '.join(sorted(aliases))})"
        )
    events = _load_events(events_file) if events_file is not None else None
    if events is not None and fails:
        raise click.UsageError("--fail only applies without --events; script the failures as events instead")
    try:
        sim = run_simulation(manifest, given_map, events, fails)
    except InvalidJob as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except SimulationError as exc:  # what --given asks for does not fit the job
        raise UsageOrIOError(f"{file}: {exc}") from None
    if output == "json":
        click.echo(json.dumps(sim.to_json(), indent=2))
    else:
        click.echo(_text(sim))
        for f in warnings:  # after the steps, on stderr: -o json stays JSON
            click.echo(f"{where(f)}: {f.severity.value} {f.rule} {f.message}", err=True)
    sys.stdout.flush()
    final = sim.steps[-1].phase if sim.steps else ""
    if final == "Failed":
        click.echo(f"kgitops simulate: job {sim.job} ends Failed", err=True)
        sys.exit(1)
