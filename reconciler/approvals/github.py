"""A GitHub ``pull_request_review`` webhook payload as approval records (pure: a mapping in, records out).

``approved`` becomes Approve and ``changes_requested`` becomes Reject, for every domain the reviewer's login
maps to (``approvals.domains.<d>.github_logins``) and every job of the pull request that domain is a party of.
Each record names the spec digest of the job as it is at the reviewed commit (``review.commit_id``), so it
approves what the reviewer saw. Comments and dismissals carry no decision and produce no record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.approvals.jobs import JobSummary
from reconciler.approvals.records import (
    MAX_REASON,
    ApprovalRecord,
    Decision,
    record_name,
    record_path,
    valid_domain,
    valid_name,
)
from reconciler.config import ApprovalsConfig
from reconciler.kuscia.labels import (
    ANNOTATION_GITHUB_PULL_REQUEST,
    ANNOTATION_GITHUB_REVIEW,
    ANNOTATION_GITHUB_REVIEWED_COMMIT,
    ANNOTATION_GITHUB_REVIEWER,
)
from reconciler.model.objects import KUSCIA_JOB

STATES = {"approved": Decision.APPROVE, "changes_requested": Decision.REJECT}
ANNOTATION_REVIEW = ANNOTATION_GITHUB_REVIEW
ANNOTATION_REVIEWER = ANNOTATION_GITHUB_REVIEWER
ANNOTATION_PULL = ANNOTATION_GITHUB_PULL_REQUEST
ANNOTATION_REVIEWED_COMMIT = ANNOTATION_GITHUB_REVIEWED_COMMIT


class GitHubEventError(Exception):
    """The payload is not a usable pull_request_review event; the message names the field."""


@dataclass(frozen=True)
class ReviewEvent:
    action: str
    state: str  # approved | changes_requested | commented | dismissed (lower case, as webhooks send it)
    login: str
    body: str
    review_url: str
    reviewed_commit: str
    submitted_at: str
    pr_number: int
    pr_url: str
    base_sha: str
    head_sha: str
    repository: str

    @property
    def decision(self) -> Decision | None:
        return STATES.get(self.state) if self.action in ("submitted", "edited") else None


def _get(data: Mapping[str, Any], dotted: str, kind: type, required: bool = True) -> Any:
    cur: Any = data
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            if required:
                raise GitHubEventError(f"`{dotted}` is missing: is this a pull_request_review event payload?")
            return kind()
        cur = cur[part]
    if cur is None and not required:
        return kind()
    if not isinstance(cur, kind):
        raise GitHubEventError(f"`{dotted}` must be a {kind.__name__}, not {type(cur).__name__}")
    return cur


def parse_review_event(data: Any) -> ReviewEvent:
    if not isinstance(data, Mapping):
        raise GitHubEventError("the event must be a JSON object")
    return ReviewEvent(
        action=_get(data, "action", str),
        state=_get(data, "review.state", str).lower(),
        login=_get(data, "review.user.login", str),
        body=_get(data, "review.body", str, required=False),
        review_url=_get(data, "review.html_url", str, required=False),
        reviewed_commit=_get(data, "review.commit_id", str, required=False),
        submitted_at=_get(data, "review.submitted_at", str, required=False),
        pr_number=_get(data, "pull_request.number", int),
        pr_url=_get(data, "pull_request.html_url", str, required=False),
        base_sha=_get(data, "pull_request.base.sha", str),
        head_sha=_get(data, "pull_request.head.sha", str),
        repository=_get(data, "repository.full_name", str, required=False),
    )


def domains_of_login(login: str, approvals: ApprovalsConfig) -> list[str]:
    wanted = login.lower()
    return sorted(d for d, t in approvals.domains.items() if wanted in {x.lower() for x in t.github_logins})


def records_for_review(
    event: ReviewEvent, jobs: Sequence[JobSummary], approvals: ApprovalsConfig
) -> tuple[list[ApprovalRecord], list[str]]:
    """(records to write, notes on what produced none and why)."""
    notes: list[str] = []
    decision = event.decision
    if decision is None:
        notes.append(f"review by {event.login} is {event.action}/{event.state}: no decision, no record")
        return [], notes
    domains = domains_of_login(event.login, approvals)
    if not domains:
        notes.append(
            f"GitHub user {event.login} speaks for no domain: "
            "list them in approvals.domains.<domain>.github_logins"
        )
        return [], notes
    if not jobs:
        notes.append(f"pull request #{event.pr_number} adds or changes no {KUSCIA_JOB}")
        return [], notes
    reason = event.body.strip() or (
        f"{'approved' if decision is Decision.APPROVE else 'changes requested'} by {event.login} "
        f"in pull request #{event.pr_number}"
    )
    annotations = {
        ANNOTATION_REVIEWER: event.login,
        ANNOTATION_PULL: event.pr_url or str(event.pr_number),
    }
    if event.review_url:
        annotations[ANNOTATION_REVIEW] = event.review_url
    if event.reviewed_commit:
        annotations[ANNOTATION_REVIEWED_COMMIT] = event.reviewed_commit
    records: list[ApprovalRecord] = []
    for domain in domains:
        for job in jobs:
            if domain == job.initiator:
                notes.append(f"{domain} is the initiator of job {job.name}: it needs no approval record")
                continue
            if domain not in job.parties:
                notes.append(f"{domain} is not a party of job {job.name}")
                continue
            if not (valid_name(job.name) and valid_name(job.namespace) and valid_domain(domain)):
                notes.append(f"{job.path}: job {job.name!r} has a name kgitops cannot write a record for")
                continue
            records.append(
                ApprovalRecord(
                    name=record_name(job.name, domain),
                    job=job.name,
                    domain=domain,
                    decision=decision,
                    reason=reason[:MAX_REASON],
                    namespace=job.namespace,
                    path=record_path(approvals.dir, domain, job.name),
                    job_digest=job.digest,
                    annotations=dict(annotations),
                )
            )
    return records, notes
