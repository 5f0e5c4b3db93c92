"""``job show``'s lines on where a job's approvals came from (JobApprovals in Git): its own module, so the
commands that never show them (``job list``) don't make its dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.views import JobInfo

__all__ = ["GitApprovals", "git_approvals"]


@dataclass(frozen=True)
class GitApprovals:
    """For ``job show``: ``lines``, one per party whose decision came from a JobApproval in Git (who, when,
    which commit, or why that record has no effect); ``annotations``: the job's other annotations."""

    lines: list[str]
    annotations: dict[str, str]


def git_approvals(job: JobInfo) -> GitApprovals:
    """The Git provenance of ``job``'s approvals (its ``approvals.kgitops.io/<domain>`` annotations)."""
    from reconciler.approvals.provenance import git_record_lines, without_provenance

    parties = [(p.domain_id, p.approval) for p in job.parties]
    return GitApprovals(
        git_record_lines(job.annotations, parties, job.initiator), without_provenance(job.annotations)
    )
