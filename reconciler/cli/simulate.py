"""``kgitops simulate``: what the engine would do with a job, step by step, without running anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.engine.simulate import Simulation, SimulationError, parse_event
from reconciler.engine.simulate import simulate as run_simulation


def _load_docs(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the file ({exc.strerror})") from None
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
        raise click.ClickException(f"{path}{pos}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _pick_job(path: Path, name: str | None) -> dict[str, Any]:
    jobs = [(line, d) for line, d in _load_docs(path) if isinstance(d, dict) and d.get("kind") == "KusciaJob"]
    if not jobs:
        raise click.ClickException(f"{path}: no KusciaJob in this file")
    names = [str((d.get("metadata") or {}).get("name", "")) for _, d in jobs]
    if name is None:
        if len(jobs) > 1:
            raise click.ClickException(
                f"{path}: {len(jobs)} KusciaJobs in this file ({', '.join(names)}); pick one with --job"
            )
        line, doc = jobs[0]
    else:
        if name not in names:
            raise click.ClickException(f"{path}: no KusciaJob named {name!r} (jobs here: {', '.join(names)})")
        line, doc = jobs[names.index(name)]
    spec = doc.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("tasks"), list) or not spec["tasks"]:
        raise click.ClickException(f"{path}:{line}: the KusciaJob has no spec.tasks; add at least one task")
    for i, t in enumerate(spec["tasks"]):
        if not isinstance(t, dict) or not t.get("alias"):
            raise click.ClickException(f"{path}:{line}: spec.tasks[{i}] has no alias; every task needs one")
    return doc


def _load_events(path: Path) -> list[dict[str, str]]:
    docs = _load_docs(path)
    data = docs[0][1] if docs else []
    if data is None:
        data = []
    if not isinstance(data, list):
        raise click.ClickException(
            f"{path}: the events file must be a YAML list of {{task: ALIAS, phase: P}} or {{stage: S}} items"
        )
    try:
        return [parse_event(e, f"{path}: event {i + 1}") for i, e in enumerate(data)]
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None


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
    --events every created task succeeds in creation order, except those named by --fail."""
    manifest = _pick_job(file, job_name)
    given_map: dict[str, str] = {}
    for g in given:
        alias, sep, phase = g.partition("=")
        if not sep or not alias:
            raise click.UsageError(f"--given {g!r}: write ALIAS=PHASE, e.g. --given psi=Succeeded")
        given_map[alias] = phase
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
    except SimulationError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if output == "json":
        click.echo(json.dumps(sim.to_json(), indent=2))
    else:
        click.echo(_text(sim))
    sys.stdout.flush()
