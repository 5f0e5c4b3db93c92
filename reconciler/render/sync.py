"""What ``kgitops sync`` shows: each object's outcome, held files with file:line:col and rule, a refused
prune, approvals, the summary; and, with ``--wait``, each followed job's progress and how they ended.

Pure functions from the SDK's ``SyncReport``/``WaitReport`` to lines or a JSON document. A dry run is worded
as what would happen (``would create``), never as done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.apply.sync import Outcome, SyncResult
from reconciler.output.printable import printable

# outcome -> how a dry run says it
WOULD = {
    Outcome.CREATED: "would create",
    Outcome.UPDATED: "would update",
    Outcome.RECREATED: "would recreate",
    Outcome.ADOPTED: "would adopt",
    Outcome.PRUNED: "would prune",
}


def held_file_lines(held_files: dict[str, str]) -> list[str]:
    """``path:line:col: RULE message`` for every held file (the position is the file's when none is known),
    ``printable`` (``reconciler.output.printable``): a path or message from the source stays on its line."""
    held = sorted(held_files.items())
    return [printable(why if why.startswith(path) else f"{path}: {why}") for path, why in held]


def sync_document(
    result: SyncResult, problems: list[str], transitions: list[str], dry_run: bool
) -> dict[str, Any]:
    """``sync -o json``: source, revision, dryRun, clean, problems, pruneRefused, heldFiles, objects (kind,
    namespace, name, outcome, message, path), transitions and approvals."""
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
    return doc


def sync_lines(result: SyncResult, problems: list[str], dry_run: bool) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines) of ``sync``'s text output, each ``printable``: names, paths, messages and
    approval records from the source or the backend never forge a line or a terminal escape."""
    out: list[str] = []
    for line in held_file_lines(result.plan.held_files):
        out.append(f"{'held':<13} {line}" if dry_run else f"{'held':<11} {line}")
    for a in result.applied:
        if a.outcome == Outcome.UNCHANGED:
            continue
        if dry_run:
            line = f"{WOULD.get(a.outcome, a.outcome.value):<13} {a.ref}"
        else:
            line = f"{a.outcome.value:<11} {a.ref}"
        if a.message and a.message != "dry run":
            line += f": {a.message}"
        out.append(line)
    if result.plan.prune_refused:
        out.append(f"prune refused: {result.plan.prune_refused}")
    out += result.approvals.lines(dry_run) if result.approvals is not None else []
    counts: dict[str, int] = {}
    for a in result.applied:
        what = WOULD.get(a.outcome, a.outcome.value) if dry_run else a.outcome.value
        counts[what] = counts.get(what, 0) + 1
    if result.unchanged_elided:  # a plan of differences only (``Reconciler.sync_differences``)
        what = Outcome.UNCHANGED.value
        counts[what] = counts.get(what, 0) + result.unchanged_elided
    if result.plan.held_files:
        counts["held file(s)"] = len(result.plan.held_files)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no objects"
    revision = result.plan.revision[:12] or "-"
    out.append(
        f"dry run of sync {revision}: {summary}; nothing was changed"
        if dry_run
        else f"sync {revision}: {summary}"
    )
    err = (
        [f"{'would not be in sync' if dry_run else 'not in sync'}: {', '.join(problems)}"] if problems else []
    )
    return [printable(line) for line in out], [printable(line) for line in err]


def data_dir_lines(dirs: dict[str, Path]) -> list[str]:
    """Where each party's data and outputs live (embedded engine)."""
    if not dirs:
        return []
    return ["party data and outputs:"] + [printable(f"  {d}: {path}") for d, path in dirs.items()]
