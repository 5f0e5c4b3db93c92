"""Approvals through Git: JobApproval records, who made them (identity and signature checks), GitHub reviews.

The seam for the reconciler is two calls::

    decisions = collect(repo_path, commit_id, records_or_None, config)   # reads Git, judges trust
    outcomes = apply_decisions(backend, decisions)                       # approveStatus + provenance

(``step.sync_approvals`` does both for a sync) and ``party_approvals(job)`` for views (``job show``, status).
Names are imported on first use, so views that only read provenance do not load pygit2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

if TYPE_CHECKING:
    from reconciler.approvals.decisions import ApprovalDecision, collect
    from reconciler.approvals.effects import ApprovalOutcome, Effect, apply_decisions
    from reconciler.approvals.history import HistoryError
    from reconciler.approvals.provenance import PartyApproval, annotation_key, party_approvals
    from reconciler.approvals.records import (
        API_VERSION,
        KIND,
        ApprovalRecord,
        Decision,
        RecordProblem,
        parse_file,
        parse_record,
        record_path,
        render_record,
    )

_HOMES = {
    "effects": ("ApprovalOutcome", "Effect", "apply_decisions"),
    "decisions": ("ApprovalDecision", "collect"),
    "history": ("HistoryError",),
    "provenance": ("PartyApproval", "annotation_key", "party_approvals"),
    "records": (
        "API_VERSION",
        "KIND",
        "ApprovalRecord",
        "Decision",
        "RecordProblem",
        "parse_file",
        "parse_record",
        "record_path",
        "render_record",
    ),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "API_VERSION",
    "ApprovalDecision",
    "ApprovalOutcome",
    "ApprovalRecord",
    "Decision",
    "Effect",
    "HistoryError",
    "KIND",
    "PartyApproval",
    "RecordProblem",
    "annotation_key",
    "apply_decisions",
    "collect",
    "parse_file",
    "parse_record",
    "party_approvals",
    "record_path",
    "render_record",
]


__getattr__ = lazy_exports(__name__, _WHERE, globals())
