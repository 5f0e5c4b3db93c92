"""What ``kgitops sync`` prints: each object's outcome, held files with file:line:col and rule, a refused
prune, approvals, the summary; and, with ``--wait``, each followed job's progress and what it waits for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.apply.sync import Outcome, SyncResult
from reconciler.apply.wait import ApproveHint, JobProgress, wait_for_jobs
from reconciler.cli.exitcodes import sync_problems
from reconciler.model import ObjectRef

FOLLOWED_KINDS = ("KusciaJob", "KusciaTask")


def held_file_lines(held_files: dict[str, str]) -> list[str]:
    """``path:line:col: RULE message`` for every held file (the position is the file's when none is known)."""
    return [why if why.startswith(path) else f"{path}: {why}" for path, why in sorted(held_files.items())]


def print_sync(result: SyncResult, transitions: list[str], fmt: str, dry_run: bool) -> None:
    problems = sync_problems(result)
    if fmt == "json":
        doc: dict[str, Any] = {
            "source": result.plan.source_id,
            "revision": result.plan.revision,
            "dryRun": dry_run,
            "clean": not problems,
            "problems": problems,
            "pruneRefused": result.plan.prune_refused,
            "heldFiles": [{"path": p, "reason": why} for p, why in sorted(result.plan.held_files.items())],
            "objects": [
                {
                    "kind": a.ref.kind,
                    "namespace": a.ref.namespace,
                    "name": a.ref.name,
                    "outcome": a.outcome.value,
                    "message": a.message,
                    "path": a.entry.path,
                }
                for a in result.applied
            ],
            "transitions": transitions,
        }
        if result.approvals is not None:
            doc["approvals"] = result.approvals.to_dict()
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    prefix = "(dry run) " if dry_run else ""
    for line in held_file_lines(result.plan.held_files):
        click.echo(f"{prefix}{'held':<11} {line}")
    for a in result.applied:
        if a.outcome == Outcome.UNCHANGED:
            continue
        line = f"{prefix}{a.outcome.value:<11} {a.ref}"
        if a.message and a.message != "dry run":
            line += f": {a.message}"
        click.echo(line)
    if result.plan.prune_refused:
        click.echo(f"prune refused: {result.plan.prune_refused}")
    for line in result.approvals.lines(dry_run) if result.approvals is not None else ():
        click.echo(line)
    counts: dict[str, int] = {}
    for a in result.applied:
        counts[a.outcome.value] = counts.get(a.outcome.value, 0) + 1
    if result.plan.held_files:
        counts["held file(s)"] = len(result.plan.held_files)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no objects"
    click.echo(f"{prefix}sync {result.plan.revision[:12] or '-'}: {summary}")
    if problems:
        click.echo(f"{prefix}not in sync: {', '.join(problems)}", err=True)


def followed(result: SyncResult) -> list[ObjectRef]:
    """The jobs and standalone KusciaTasks ``--wait`` follows: every one the source manages and still has."""
    gone = (Outcome.PRUNED, Outcome.UNMANAGED, Outcome.HELD)
    return [a.ref for a in result.applied if a.ref.kind in FOLLOWED_KINDS and a.outcome not in gone]


def approve_hint(git_source: bool) -> ApproveHint:
    """How a party approves: through Git (a JobApproval record, merged) for a Git source, else directly."""
    if git_source:
        return lambda job, domain: (
            f"`kgitops approve {job} --domain {domain}` and merge the JobApproval it commits"
        )
    return lambda job, domain: f"`kgitops job approve {job} --domain {domain}`"


def wait_and_report(
    backend: Any, refs: list[ObjectRef], timeout: float | None, fmt: str, hint: ApproveHint
) -> bool:
    """Follow ``refs``; True when every one ended well before the timeout. Names what each still waits
    for as it moves, and on a timeout gives each unfinished one's reason."""
    if not refs:
        return True
    quiet = fmt == "json"

    def show(progress: JobProgress) -> None:
        if not quiet:
            click.echo(f"  {progress.line()}")

    final, finished = wait_for_jobs(backend, refs, timeout, show, hint=hint)
    bad = [p for p in final if p.bad]
    for p in bad:
        click.echo(f"job {p.ref.name} ended {p.phase}" + (f": {p.message}" if p.message else ""), err=True)
    if not finished:
        waiting = [p for p in final if not p.final]
        limit = f"{timeout:g}s" if timeout is not None else "the timeout"
        click.echo(f"timed out after {limit} waiting for {len(waiting)} job(s):", err=True)
        for p in waiting:
            click.echo(f"  {p.reason()}", err=True)
    return not bad and finished


def print_outputs(backend: Any, jobs: list[ObjectRef]) -> None:
    """Where each party's data and outputs live, for the embedded engine (other backends keep them remote)."""
    from reconciler.backends.local import LocalBackend

    if not isinstance(backend, LocalBackend) or not jobs:
        return
    domains: dict[str, None] = {}
    for ref in jobs:
        job = backend.get(ref)
        specs = [job.spec] if job is not None and ref.kind == "KusciaTask" else []
        specs += (job.spec.get("tasks") or []) if job is not None and ref.kind == "KusciaJob" else []
        for task in specs:
            for party in task.get("parties") or []:
                domains.setdefault(str(party.get("domainID", "")), None)
    lines = [f"  {d}: {Path(backend.state_dir) / 'storage' / d / 'data'}" for d in domains if d]
    if lines:
        click.echo("party data and outputs:")
        click.echo("\n".join(lines))
