"""What ``sdk.sync`` reports beyond the sync itself: why a sync is not clean, which jobs ``wait`` follows, how
a party approves, and the parties whose data directories are shown (helpers of ``reconciler.sdk.gitops``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.model.objects import JOB_APPROVAL, KUSCIA_JOB, KUSCIA_TASK

if TYPE_CHECKING:
    from reconciler.apply.session import Session
    from reconciler.apply.sync import SyncResult
    from reconciler.apply.wait import ApproveHint
    from reconciler.model import ObjectRef

FOLLOWED_KINDS = (KUSCIA_JOB, KUSCIA_TASK)


def sync_problems(result: SyncResult) -> list[str]:
    """Why a sync is not clean, one short line each (empty: everything applied or unchanged)."""
    from reconciler.apply.sync import Outcome

    not_applied = {Outcome.HELD, Outcome.OUT_OF_SYNC, Outcome.FAILED, Outcome.CONFLICT}
    counts: dict[str, int] = {}
    for a in result.applied:
        if a.outcome in not_applied:
            counts[a.outcome.value] = counts.get(a.outcome.value, 0) + 1
    out = [f"{n} {what}" for what, n in sorted(counts.items())]
    if result.plan.held_files:
        out.append(f"{len(result.plan.held_files)} held file(s)")
    if result.plan.prune_refused:
        out.append("prune refused")
    if result.approvals is not None:
        out += result.approvals.problems()
    return out


def followed(result: SyncResult) -> list[ObjectRef]:
    """The jobs and standalone KusciaTasks ``wait`` follows: those this sync set moving, and no others. That
    is each one it created, re-created (``--recreate``, ``kgitops.io/on-change: recreate``, a drifted job
    restored) or changed (``updated``), and each job the approvals step applied a party's decision to (it
    leaves ``AwaitingApproval`` now), in the order applied. A managed job the sync left as it was (unchanged,
    adopted, held, OutOfSync) is not followed, whatever its phase: an old job that ended ``Failed`` long ago
    is no failure of this sync."""
    from reconciler.apply.sync import Outcome

    moved = (Outcome.CREATED, Outcome.RECREATED, Outcome.UPDATED)
    refs = [a.ref for a in result.applied if a.ref.kind in FOLLOWED_KINDS and a.outcome in moved]
    if result.approvals is not None:
        refs += result.approvals.applied_jobs()
    return list(dict.fromkeys(refs))


def approve_hint(git_source: bool) -> ApproveHint:
    """How a party approves: through Git (a JobApproval record, merged) for a Git source, else directly."""
    if git_source:
        return lambda job, domain: (
            f"`kgitops approve {job} --domain {domain}` and merge the {JOB_APPROVAL} it commits"
        )
    return lambda job, domain: f"`kgitops job approve {job} --domain {domain}`"


def party_domains(session: Session, refs: list[ObjectRef]) -> list[str]:
    """The party domains of the followed jobs and tasks, in order of first appearance."""
    domains: dict[str, None] = {}
    for ref in refs:
        obj = session.backend.get(ref)
        if obj is None:
            continue
        tasks = [obj.spec] if ref.kind == KUSCIA_TASK else list(obj.spec.get("tasks") or [])
        for task in tasks:
            for party in task.get("parties") or []:
                if party.get("domainID"):
                    domains.setdefault(str(party["domainID"]), None)
    return list(domains)
