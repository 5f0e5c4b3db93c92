"""From the records in a commit to decisions: who made each one, whether they may, and which one counts.

``collect`` reads; it never touches a backend. Its result is the whole story for status files: every record
appears once, with ``trusted`` and, when it has no effect, ``why_not``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.approvals.history import (
    commit_facts,
    last_change,
    open_repo,
    read_records,
    resolve_commit,
)
from reconciler.approvals.records import (
    KIND,
    ApprovalRecord,
    Decision,
    RecordProblem,
    domain_of_path,
    parse_record,
)
from reconciler.approvals.signatures import Verifier
from reconciler.approvals.trust import judge
from reconciler.config import Config
from reconciler.model import ObjectRef, Resource


@dataclass(frozen=True)
class ApprovalDecision:
    """One record, judged. ``trusted`` means it takes effect; otherwise ``why_not`` says why not.

    ``job`` is None only for a record too broken to name its job."""

    job: ObjectRef | None
    domain: str
    decision: Decision | None
    reason: str
    who: str  # "Name <e-mail>" of the committer of the record's last change
    when: str  # that commit's time, RFC 3339
    commit: str
    path: str
    line: int
    trusted: bool
    why_not: str = ""
    signed_by: str = ""  # fingerprint of the verifying key, when signed by a key of the domain
    record: str = ""  # the JobApproval's metadata.name
    timestamp: int = field(default=0, compare=False)  # commit time, seconds since the epoch

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job.name if self.job else "",
            "namespace": self.job.namespace if self.job else "",
            "domain": self.domain,
            "decision": str(self.decision) if self.decision else "",
            "reason": self.reason,
            "who": self.who,
            "when": self.when,
            "commit": self.commit,
            "path": self.path,
            "line": self.line,
            "trusted": self.trusted,
            "whyNot": self.why_not,
            "signedBy": self.signed_by,
        }


def records_from_resources(
    resources: Iterable[Resource], subpath: str = ""
) -> list[ApprovalRecord | RecordProblem]:
    """JobApproval objects from the loader (paths relative to the source root) as records (repo paths)."""
    out: list[ApprovalRecord | RecordProblem] = []
    for res in resources:
        if res.kind != KIND:
            continue
        origin = res.origin
        path = posixpath.join(subpath, origin.path) if origin and subpath else (origin.path if origin else "")
        out.append(parse_record(res.to_manifest(), path, origin.line if origin else 0))
    return out


def collect(
    repo_path: str,
    commit_id: str,
    records: Sequence[ApprovalRecord | RecordProblem] | None,
    config: Config,
    *,
    subpath: str = "",
) -> list[ApprovalDecision]:
    """Judge every record at ``commit_id``. ``records=None`` reads them from ``<subpath>/<approvals.dir>/``.

    Raises HistoryError when the repository or commit cannot be read.
    """
    approvals = config.approvals
    folder = posixpath.normpath(posixpath.join(subpath, approvals.dir)) if subpath else approvals.dir
    repo = open_repo(repo_path)
    head = resolve_commit(repo, commit_id)
    if records is None:
        records = read_records(repo, head, folder)
    decisions: list[ApprovalDecision] = []
    with Verifier(approvals.domains, config.base_dir) as verifier:
        for rec in records:
            if isinstance(rec, RecordProblem):
                decisions.append(_broken(rec, folder))
                continue
            decisions.append(_judge_record(head, rec, folder, config, verifier))
    return _mark_duplicates(decisions)


def _broken(problem: RecordProblem, folder: str) -> ApprovalDecision:
    return ApprovalDecision(
        job=None,
        domain=domain_of_path(problem.path, folder) or "",
        decision=None,
        reason="",
        who="",
        when="",
        commit="",
        path=problem.path,
        line=problem.line,
        trusted=False,
        why_not=f"{problem.where}: {problem.message}",
    )


def _judge_record(
    head: Any, rec: ApprovalRecord, folder: str, config: Config, verifier: Verifier
) -> ApprovalDecision:
    base = ApprovalDecision(
        job=rec.job_ref,
        domain=rec.domain,
        decision=rec.decision,
        reason=rec.reason,
        who="",
        when="",
        commit="",
        path=rec.path,
        line=rec.line,
        trusted=False,
        record=rec.name,
    )
    folder_domain = domain_of_path(rec.path, folder)
    if folder_domain != rec.domain:
        where = f"{folder}/{rec.domain}/"
        msg = (
            f"{rec.where}: a record for domain {rec.domain} must live in {where}, where CODEOWNERS lets only "
            f"{rec.domain}'s reviewers change it; move the file there"
        )
        return replace(base, why_not=msg)
    changed = last_change(head, rec.path)
    if changed is None:
        msg = f"{rec.path} is not in commit {str(head.id)[:12]}; only committed records count"
        return replace(base, why_not=msg)
    facts = commit_facts(changed, rec.domain, verifier)
    trusted, why = judge(rec.domain, facts, config.approvals)
    return replace(
        base,
        who=facts.who,
        when=facts.when,
        commit=facts.commit,
        trusted=trusted,
        why_not=why,
        signed_by=facts.signature.key,
        timestamp=facts.timestamp,
    )


def _mark_duplicates(decisions: list[ApprovalDecision]) -> list[ApprovalDecision]:
    """One record per job and domain: among trusted ones the oldest commit counts, later ones are reported.

    Untrusted records are left out of the contest so that a forged record can never push out a real one.
    """
    first: dict[tuple[ObjectRef, str], ApprovalDecision] = {}
    for d in sorted((d for d in decisions if d.trusted and d.job), key=lambda d: (d.timestamp, d.path)):
        assert d.job is not None
        first.setdefault((d.job, d.domain), d)
    out: list[ApprovalDecision] = []
    for d in decisions:
        if d.trusted and d.job and first[(d.job, d.domain)] is not d:
            winner = first[(d.job, d.domain)]
            why = (
                f"{d.where}: a second record for job {d.job.name} and domain {d.domain}; "
                f"{winner.where} (commit {winner.commit[:12]}) came first and counts. Keep one record per "
                "job and domain: edit that file instead"
            )
            d = replace(d, trusted=False, why_not=why)
        out.append(d)
    return out
