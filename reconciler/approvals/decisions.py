"""From the records in a commit to decisions: who made each one, whether they may, and which one counts.

``collect`` is the one decision function: ``kgitops sync`` (and its dry run) applies what it returns, and
``kgitops approvals list`` prints it, so both always say the same. It reads Git only, never a backend; the
jobs it checks records against are those of the same commit. Every record appears once, with ``trusted`` and,
when it has no effect, ``why_not``; a trusted record whose job is not in the repository yet has ``waiting``.
In order, a record counts only if

1. it parses, and sits in its domain's folder;
2. the commit credited with its content (``history.Credits``: merges that bring content back are credited
   themselves) speaks for the domain (``trust.judge``: a good signature by a listed key, or, with no signature
   at all and none required, a listed committer e-mail);
3. it is the latest such record of its job and domain by history (``_latest_per_party``);
4. the job of the same commit has the domain as a party other than the initiator, and the spec digest the
   record names (``spec.jobSpecDigest``) is the job's (``digest.job_digest``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pygit2

from reconciler.approvals.commit_trust import judge
from reconciler.approvals.history import (
    Credits,
    commit_facts,
    descends,
    open_repo,
    read_records,
    resolve_commit,
)
from reconciler.approvals.jobs import JobSummary, index_jobs, jobs_at
from reconciler.approvals.records import (
    ApprovalRecord,
    Decision,
    RecordProblem,
    domain_of_path,
)
from reconciler.approvals.signatures import Verifier
from reconciler.config import Config
from reconciler.model import ObjectRef


@dataclass(frozen=True)
class ApprovalDecision:
    """One record, judged. ``trusted`` means it counts; otherwise ``why_not`` says why not. A trusted record
    with ``waiting`` set counts once its job is in the repository (``waiting`` says so).

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
    digest: str = ""  # spec.jobSpecDigest: the job spec decided on
    waiting: str = ""  # trusted, but the job is not in the repository at this commit (yet)
    job_path: str = ""  # the file of the job it was checked against

    @property
    def verdict(self) -> str:
        """What ``approvals list`` prints: OK, WAITING, IGNORED or INVALID (a record too broken to judge)."""
        if self.job is None:
            return "INVALID"
        if not self.trusted:
            return "IGNORED"
        return "WAITING" if self.waiting else "OK"

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
            "verdict": self.verdict,
            "whyNot": self.why_not,
            "waiting": self.waiting,
            "signedBy": self.signed_by,
            "jobSpecDigest": self.digest,
        }


def collect(
    repo_path: str | pygit2.Repository,
    commit_id: str,
    records: Sequence[ApprovalRecord | RecordProblem] | None,
    config: Config,
    *,
    subpath: str = "",
    jobs: Sequence[JobSummary] | None = None,
) -> list[ApprovalDecision]:
    """Judge every record at ``commit_id``: the one decision that ``sync``, ``sync --dry-run`` and
    ``approvals list`` all show. ``records=None`` reads them from ``<subpath>/<approvals.dir>/``;
    ``jobs=None`` reads the KusciaJobs of the same commit below ``subpath`` (what sync creates from).

    ``repo_path``: a path in the repository, or the repository itself (a snapshot's ``GitHistory``).
    Raises HistoryError when the repository or commit cannot be read.
    """
    approvals = config.approvals
    folder = posixpath.normpath(posixpath.join(subpath, approvals.dir)) if subpath else approvals.dir
    repo = repo_path if isinstance(repo_path, pygit2.Repository) else open_repo(repo_path)
    head = resolve_commit(repo, commit_id)
    if records is None:
        records = read_records(repo, head, folder)
    decisions: list[ApprovalDecision] = []
    credits = Credits(repo)
    with Verifier(approvals.domains, config.base_dir) as verifier:
        for rec in records:
            if isinstance(rec, RecordProblem):
                decisions.append(_broken(rec, folder))
                continue
            decisions.append(_judge_record(credits, head, rec, folder, config, verifier))
    latest = _latest_per_party(repo, decisions)
    if not any(d.trusted for d in latest):
        return latest  # nothing to hold against a job: the commit's jobs need not be read (no records)
    if jobs is None:
        jobs = jobs_at(repo, str(head.id), under=subpath)
    by_ref = index_jobs(jobs)
    at = str(head.id)[:12]
    return [_against_job(d, by_ref, at) if d.trusted else d for d in latest]


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
    credits: Credits, head: Any, rec: ApprovalRecord, folder: str, config: Config, verifier: Verifier
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
        digest=rec.job_digest,
    )
    folder_domain = domain_of_path(rec.path, folder)
    if folder_domain != rec.domain:
        where = f"{folder}/{rec.domain}/"
        msg = (
            f"{rec.where}: a record for domain {rec.domain} must live in {where}, where CODEOWNERS lets only "
            f"{rec.domain}'s reviewers change it; move the file there"
        )
        return replace(base, why_not=msg)
    changed = credits.last_change(head, rec.path)
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


def _latest_per_party(repo: Any, decisions: list[ApprovalDecision]) -> list[ApprovalDecision]:
    """One record per job and domain counts: the latest *by history* among those the domain really made.

    Record B is later than record A when the commit credited with B has A's commit in its history; time stamps
    and file names never decide (a commit's time is whatever its author typed). Records that no other one
    follows are the latest; when there are several (made on parallel branches, or in one commit), a Reject
    among them counts, since a party's "no" is never overruled by a "yes" it made without seeing it; if they
    agree, which one is credited changes nothing (the first by path is). Untrusted records are left out of the
    contest, so a forged record can never push out a real one.
    """
    groups: dict[tuple[ObjectRef, str], list[ApprovalDecision]] = {}
    for d in decisions:
        if d.trusted and d.job is not None:
            groups.setdefault((d.job, d.domain), []).append(d)
    verdicts: dict[int, ApprovalDecision] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        latest = [d for d in group if not any(descends(repo, o.commit, d.commit) for o in group)]
        rejects = [d for d in latest if d.decision is Decision.REJECT]
        winner = (rejects or latest)[0]
        for d in group:
            if d is winner:
                continue
            verdicts[id(d)] = replace(d, trusted=False, why_not=_lost_to(repo, d, winner, latest))
    return [verdicts.get(id(d), d) for d in decisions]


def _lost_to(repo: Any, d: ApprovalDecision, winner: ApprovalDecision, latest: list[ApprovalDecision]) -> str:
    assert d.job is not None
    what = f"job {d.job.name} and domain {d.domain}"
    later = next((m for m in [winner, *latest] if descends(repo, m.commit, d.commit)), None)
    if later is not None:
        head = (
            f"{d.where}: superseded by the later record {later.where} (commit {later.commit[:12]}) "
            f"for {what}"
        )
        if later is not winner:
            head += f", and that one by {winner.where} (commit {winner.commit[:12]})"
    else:
        head = (
            f"{d.where}: made on a parallel branch or in the same commit as {winner.where} "
            f"(commit {winner.commit[:12]}), another record for {what}; "
            + ("the Reject counts" if winner.decision is Decision.REJECT and d.decision is not winner.decision
               else "that one counts")
        )  # fmt: skip
    return head + ". Keep one record per job and domain: edit that file instead"


def _against_job(d: ApprovalDecision, jobs: dict[ObjectRef, list[JobSummary]], at: str) -> ApprovalDecision:
    """The record that counts for its party, checked against the job of the same commit."""
    assert d.job is not None
    name = d.job.name
    found = jobs.get(d.job, [])
    if not found:
        return replace(
            d,
            waiting=f"job {name} is not in the repository at {at} (yet); the {d.decision} takes effect "
            "once it is",
        )
    if len({j.digest for j in found}) > 1:
        paths = ", ".join(sorted({j.path for j in found}))
        why = f"job {name} is defined more than once ({paths}); fix that first"
        return replace(d, trusted=False, why_not=why)
    job = found[0]
    if d.domain == job.initiator:
        return replace(
            d, trusted=False, why_not=f"{d.domain} is the initiator of job {name} and approves it implicitly"
        )
    if d.domain not in job.parties:
        listed = ", ".join(job.parties) or "none"
        return replace(
            d, trusted=False, why_not=f"{d.domain} is not a party of job {name} (parties: {listed})"
        )
    if d.digest != job.digest:
        return replace(
            d,
            trusted=False,
            why_not=(
                f"the {d.decision} is for another spec of job {name} (jobSpecDigest {d.digest}); {job.path} "
                f"now holds {job.digest}: the job changed after the decision, so {d.domain} must decide "
                f"again (kgitops approve {name} --domain {d.domain})"
            ),
        )
    return replace(d, job_path=job.path)
