"""Applying judged decisions to a backend: ``approveStatus`` for trusted records, a reason for the rest.

Whether a record counts is decided in ``decisions.collect`` alone (the same answer ``approvals list`` prints);
this module adds only what the live job says: it does not exist yet (the record waits and takes effect on the
sync that creates it, so approvals may be merged before, with, or after the job), it already carries the
decision, it left the phases where approval matters, or it runs another spec than the one approved (a spec
change that sync holds back). Runs on every sync and is idempotent: a decision the job already carries is not
sent again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.approvals.decisions import ApprovalDecision
from reconciler.approvals.digest import job_digest
from reconciler.approvals.provenance import annotation_key, encode
from reconciler.backends.base import Backend, BackendError
from reconciler.kuscia.stages import APPROVAL_PHASES
from reconciler.model import JobPhase, Resource
from reconciler.model.phases import ApprovePhase

# Phases in which a party's decision still matters (Kuscia's ApproveJob writes in any phase; we say
# "too late" instead of silently changing approveStatus of a job that already runs).


class Effect(StrEnum):
    APPLIED = "applied"  # sent to the backend now
    UNCHANGED = "unchanged"  # the job already carries this decision
    WAITING = "waiting"  # trusted, but the job does not exist (yet)
    IGNORED = "ignored"  # no effect; ``message`` says why
    FAILED = "failed"  # the backend refused; ``message`` has its error


@dataclass(frozen=True)
class ApprovalOutcome:
    decision: ApprovalDecision
    effect: Effect
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision.to_dict(), "effect": str(self.effect), "message": self.message}


def apply_decisions(backend: Backend, decisions: Sequence[ApprovalDecision]) -> list[ApprovalOutcome]:
    """Send trusted decisions to ``backend`` and note each record's provenance on its job."""
    outcomes: list[ApprovalOutcome] = []
    jobs: dict[Any, Resource | None] = {}
    for d in decisions:
        if d.job is None:
            outcomes.append(ApprovalOutcome(d, Effect.IGNORED, d.why_not))
            continue
        if d.job not in jobs:
            jobs[d.job] = backend.get(d.job)
        job = jobs[d.job]
        outcome = _apply_one(backend, d, job)
        outcomes.append(outcome)
        if job is not None:
            _note_provenance(backend, job, outcome)
            if outcome.effect is Effect.APPLIED:
                jobs[d.job] = backend.get(d.job)
    return outcomes


def _apply_one(backend: Backend, d: ApprovalDecision, job: Resource | None) -> ApprovalOutcome:
    if not d.trusted:
        return ApprovalOutcome(d, Effect.IGNORED, d.why_not)
    assert d.job is not None and d.decision is not None
    name = d.job.name
    if d.waiting:
        return ApprovalOutcome(d, Effect.WAITING, d.waiting)
    if job is None:
        return ApprovalOutcome(
            d,
            Effect.WAITING,
            f"job {name} does not exist (yet); the {d.decision} takes effect when it is created",
        )
    live = job_digest(job.name, job.spec)
    if live != d.digest:
        return ApprovalOutcome(
            d,
            Effect.IGNORED,
            f"the live job {name} has another spec ({live}) than the one {d.domain} decided on "
            f"({d.digest}, as in {d.job_path or 'Git'}); nothing is sent until they agree",
        )
    wanted = ApprovePhase.ACCEPTED if d.decision.accept else ApprovePhase.REJECTED
    current = (job.status.get("approveStatus") or {}).get(d.domain, "")
    if current == wanted:
        return ApprovalOutcome(d, Effect.UNCHANGED, f"job {name} already has {d.domain}={wanted}")
    phase = JobPhase.parse(str(job.status.get("phase") or ""))
    if phase not in APPROVAL_PHASES:
        was = f" (it holds {d.domain}={current})" if current else ""
        return ApprovalOutcome(
            d,
            Effect.IGNORED,
            f"too late: job {name} is already {phase}{was}; the {d.decision} changes nothing",
        )
    try:
        backend.approve(d.job, d.domain, d.decision.accept, d.reason)
    except BackendError as exc:
        return ApprovalOutcome(d, Effect.FAILED, f"the backend refused the {d.decision} of job {name}: {exc}")
    return ApprovalOutcome(
        d, Effect.APPLIED, f"{d.domain} {'approved' if d.decision.accept else 'rejected'} {name}"
    )


def _note_provenance(backend: Backend, job: Resource, outcome: ApprovalOutcome) -> None:
    """Keep who/when/which commit on the job; best effort, since not every backend stores annotations."""
    d = outcome.decision
    if not d.domain:
        return
    effective = outcome.effect in (Effect.APPLIED, Effect.UNCHANGED)
    entry = {
        "decision": str(d.decision) if d.decision else "",
        "who": d.who,
        "when": d.when,
        "commit": d.commit,
        "path": d.path,
        "jobSpecDigest": d.digest,
        "effective": effective,
        "whyNot": "" if effective else outcome.message,
    }
    key = annotation_key(d.domain)
    value = encode(entry)
    if job.annotations.get(key) == value:
        return
    if not effective and job.annotations.get(key):
        # A forged or duplicate record must not overwrite the provenance of the one that counted.
        try:
            if json.loads(job.annotations[key]).get("effective"):
                return
        except ValueError:
            pass
    try:
        backend.update_metadata(job.ref, annotations={key: value})
        job.annotations[key] = value
    except BackendError:
        pass
