"""The plan comment on a pull request: one comment, found again by a hidden marker and edited in place.

Its Markdown holds the plan with the Mermaid DAG of each new or changed job (``reconciler.render.plan``),
the validation findings (held files and blocked objects, with file:line:col and rule as the plan gives them),
and, per new or changed job, the parties that still have to approve: every party but the initiator, less
those whose approval counts — Kuscia's ``approveStatus`` of the live job, or a trusted Approve record in the
source at the plan's revision (``approved``, from ``reconciler.approvals.decisions.collect``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from reconciler.approvals.provenance import job_parties, party_approvals
from reconciler.model.objects import KUSCIA_JOB
from reconciler.model.phases import ApprovePhase
from reconciler.plan.model import Action, Plan
from reconciler.render.plan import render_markdown

MARKER = "<!-- kgitops:plan -->"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def pending_approvals(
    plan: Plan, approved: AbstractSet[tuple[str, str]] = frozenset()
) -> dict[str, list[str]]:
    """Job name → parties (not the initiator) that have not approved yet, for new and changed jobs.
    ``approved`` holds (job, domain) pairs whose approval record in the source counts."""
    out: dict[str, list[str]] = {}
    for e in plan.entries:
        if e.ref.kind != KUSCIA_JOB or e.action not in (Action.CREATE, Action.CHANGED):
            continue
        if e.live is not None and e.action == Action.CHANGED and not e.recreate:
            rows = party_approvals(e.live)
            waiting = [r.domain for r in rows if not r.initiator and r.status != ApprovePhase.ACCEPTED]
        elif e.desired is not None:
            initiator, parties = job_parties(e.desired)
            waiting = [d for d in dict.fromkeys(parties) if d != initiator]
        else:
            continue
        waiting = [d for d in waiting if (e.ref.name, d) not in approved]
        if waiting:
            out[e.ref.name] = waiting
    return out


def findings(plan: Plan) -> list[str]:
    """Validation findings as Markdown list items: held files and blocked objects."""
    lines = [f"- `{_md(path)}`: {_md(why)}" for path, why in sorted(plan.held_files.items())]
    for e in plan.entries:
        if e.action == Action.HELD or e.blocked:
            lines.append(
                f"- `{_md(str(e.ref))}`{f' ({_md(e.path)})' if e.path else ''}: {_md(e.blocked or e.reason)}"
            )
    return lines


def plan_comment(plan: Plan, approved: AbstractSet[tuple[str, str]] = frozenset()) -> str:
    """The whole comment body, starting with ``MARKER``; ``approved`` as for ``pending_approvals``."""
    out = [MARKER, render_markdown(plan).rstrip("\n"), ""]
    found = findings(plan)
    out += ["#### Validation findings", ""]
    out += found or ["None: every file loads and validates."]
    out.append("")
    pending = pending_approvals(plan, approved)
    out += ["#### Still to approve", ""]
    if pending:
        out += [
            f"- `{_md(job)}`: {', '.join(_md(p) for p in parties)}"
            for job, parties in sorted(pending.items())
        ]
    else:
        out.append("Nobody: no new or changed job waits for a party's approval.")
    return "\n".join(out) + "\n"
