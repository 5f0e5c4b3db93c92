"""The exit-code policy of kgitops, in one place; ``docs/exit-codes.md`` is its table.

    0    the command did what was asked, and the result is clean (in sync, applied, valid)
    1    the command ran, and the answer is "not clean": a difference (diff), something held, OutOfSync,
         failed or refused (sync), error findings (validate), a job that ended Failed (simulate)
    2    the command could not do its work: a usage, config, source or backend (I/O) error
    130  interrupted by SIGINT (Ctrl-C), as shells report it (128 + 2)

``diff`` and ``sync`` map their outcomes here, so a script never has to parse the output to know what
happened.
"""

from __future__ import annotations

from typing import Any

from reconciler.apply.sync import Outcome, SyncResult
from reconciler.plan.model import Plan

OK = 0
NOT_CLEAN = 1
ERROR = 2
INTERRUPTED = 130

# Outcomes of sync that leave the backend not matching the source.
NOT_APPLIED = frozenset({Outcome.HELD, Outcome.OUT_OF_SYNC, Outcome.FAILED})


def diff_code(plan: Plan) -> int:
    """0 in sync; 1 on any difference (create, change, prune, OutOfSync, held); 2 when the source failed."""
    if plan.error:
        return ERROR
    return OK if plan.in_sync else NOT_CLEAN


def sync_problems(result: SyncResult) -> list[str]:
    """Why a sync is not clean, one short line each (empty: everything applied or unchanged)."""
    out: list[str] = []
    counts: dict[str, int] = {}
    for a in result.applied:
        if a.outcome in NOT_APPLIED:
            counts[a.outcome.value] = counts.get(a.outcome.value, 0) + 1
    out += [f"{n} {what}" for what, n in sorted(counts.items())]
    if result.plan.held_files:
        out.append(f"{len(result.plan.held_files)} held file(s)")
    if result.plan.prune_refused:
        out.append("prune refused")
    approvals: Any = result.approvals
    if approvals is not None and (approvals.error or approvals.failed):
        out.append("approvals failed")
    return out


def sync_code(result: SyncResult, waited_ok: bool = True) -> int:
    """0 when everything was applied or unchanged (and, with --wait, every job succeeded in time); 1 when
    anything is held, OutOfSync, failed or refused, or a followed job failed or timed out."""
    return NOT_CLEAN if sync_problems(result) or not waited_ok else OK
