"""Approving jobs through Git: commit a JobApproval record, list the records with the verdicts sync applies,
print a job's spec digest, and turn a GitHub pull-request review into records.

Every call reads the ``approvals`` section of a ``Config`` (the records' folder, below the source's subpath)
and a Git repository (any directory inside it). Errors are ``ApprovalsError`` (a ``KgitopsError``, exit 1)
naming the repository, revision, file or key, and what to pass instead.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.config import Config
from reconciler.errors import KgitopsError
from reconciler.model.objects import KUSCIA_JOB

if TYPE_CHECKING:
    from reconciler.approvals.decisions import ApprovalDecision
    from reconciler.approvals.jobs import JobSummary
    from reconciler.approvals.records import ApprovalRecord
    from reconciler.approvals.writer import Written

__all__ = [
    "ApprovalCommit",
    "ApprovalsError",
    "ReviewRecords",
    "approvals_dir",
    "approvals_repo",
    "commit_approval",
    "job_digest",
    "list_approvals",
    "records_from_review",
]


class ApprovalsError(KgitopsError):
    """An approval could not be recorded or read (exit code 1)."""

    exit_code = 1


def _subpath(cfg: Config) -> str:
    """The source's subpath as sync spells it (``reconciler.source.source_path.normal_subpath``: ``./jobs/``
    is ``jobs``); one that sync refuses (absolute, leaving the repository) is an ``ApprovalsError``."""
    from reconciler.source.source_path import SourcePathError, normal_subpath

    try:
        return normal_subpath(cfg.source.subpath)
    except SourcePathError as exc:
        raise ApprovalsError(str(exc)) from None


def approvals_dir(cfg: Config) -> str:
    """The approvals folder relative to the repository root (the source's subpath, if any, comes first)."""
    sub = _subpath(cfg)
    return posixpath.normpath(posixpath.join(sub, cfg.approvals.dir)) if sub else cfg.approvals.dir


def approvals_repo(cfg: Config, repo_path: str | Path | None = None) -> Path:
    """The repository the approval records are read from: ``repo_path`` when given (``--repo``), else the
    config's source when it is a local path (``source.path``, relative to the config file), else the
    working directory. A Git URL source has no local repository to read: the working directory."""
    from reconciler.source import looks_like_url

    if repo_path is not None:
        return Path(repo_path)
    if cfg.source.path and not looks_like_url(cfg.source.path):
        return cfg.resolve(cfg.source.path)
    return Path(".")


def _git_errors() -> tuple[type[Exception], ...]:
    from reconciler.approvals.history import HistoryError
    from reconciler.approvals.signatures import SigningError
    from reconciler.approvals.writer import WriteError

    return (HistoryError, WriteError, SigningError)


def _the_job(repo: Any, revision: str, name: str, namespace: str, cfg: Config) -> JobSummary | None:
    """The job as sync would read it at ``revision`` (below the source's subpath)."""
    from reconciler.approvals.jobs import jobs_at

    sub = _subpath(cfg)
    found = [j for j in jobs_at(repo, revision, under=sub) if j.name == name and j.namespace == namespace]
    if len({j.digest for j in found}) > 1:
        paths = ", ".join(sorted(j.path for j in found))
        raise ApprovalsError(f"job {name} is defined more than once at {revision} ({paths}); fix that first")
    return found[0] if found else None


def _party_notes(job: JobSummary | None, record: ApprovalRecord) -> list[str]:
    if job is None:
        return [f"job {record.job} is not in the repository yet; the record waits until it arrives"]
    if record.domain == job.initiator:
        return [f"{record.domain} is the initiator of job {job.name}; its approval is implicit"]
    if record.domain not in job.parties:
        return [f"{record.domain} is not a party of job {job.name} (parties: {', '.join(job.parties)})"]
    return []


@dataclass(frozen=True)
class ApprovalCommit:
    """``record``: the JobApproval committed (with the job's spec digest); ``written``: its path, branch,
    commit and whether it is signed; ``notes``: what the user should know (not a party, not in Git yet)."""

    record: ApprovalRecord
    written: Written
    notes: list[str] = field(default_factory=list)


def commit_approval(
    cfg: Config,
    job: str,
    domain: str,
    reject: bool = False,
    reason: str = "",
    namespace: str = "cross-domain",
    repo_path: str | Path = ".",
    base: str = "HEAD",
    branch: str = "",
    sign: bool = False,
    signing_key: str = "",
    signing_format: str = "",
    job_at: str = "",
    digest: str = "",
    author_name: str = "",
    author_email: str = "",
) -> ApprovalCommit:
    """Commit ``domain``'s decision on ``job`` as a JobApproval on a new branch (default
    ``<approvals.branch_prefix><domain>/<job>``) from ``base``, ready for a pull request.

    The record names the digest of the job's spec at ``job_at`` (default ``base``) unless ``digest``
    (``sha256:...``) is given; it then decides on exactly that spec. ``sign`` signs the commit with Git's
    ``gpg.format``/``user.signingkey`` or ``signing_format``/``signing_key``."""
    from reconciler.approvals.history import open_repo
    from reconciler.approvals.records import ApprovalRecord, Decision, parse_record, record_name, record_path
    from reconciler.approvals.writer import commit_record, identity, signing_from_git

    folder = approvals_dir(cfg)
    record = ApprovalRecord(
        name=record_name(job, domain),
        job=job,
        domain=domain,
        decision=Decision.REJECT if reject else Decision.APPROVE,
        reason=reason,
        namespace=namespace,
        path=record_path(folder, domain, job),
        job_digest=digest or "sha256:" + "0" * 64,  # a stand-in until the job is read: the fields check first
    )
    checked = parse_record(record.to_manifest(), record.path)
    if not isinstance(checked, ApprovalRecord):
        raise ApprovalsError(checked.message)
    at = job_at or base
    notes: list[str] = []
    try:
        repo = open_repo(str(repo_path))
        who = identity(repo, author_name, author_email)
        signing = signing_from_git(repo, signing_format, signing_key) if sign else None
        found = _the_job(repo, at, job, namespace, cfg)
        if found is None and not digest:
            raise ApprovalsError(
                f"job {job} (namespace {namespace}) is not at {at}, so there is no spec to decide on",
                hint="pass --job-at with the branch or commit that holds it (e.g. the pull request's "
                "branch), or --digest",
            )
        if found is not None and not digest:
            record = replace(record, job_digest=found.digest)
        elif found is not None and digest != found.digest:
            notes.append(
                f"--digest differs from job {job} at {at} ({found.digest}); the record counts only for the "
                "spec you named"
            )
        notes += _party_notes(found, record)
        written = commit_record(
            repo,
            record,
            branch=branch or f"{cfg.approvals.branch_prefix}{domain}/{job}",
            base=base,
            who=who,
            signing=signing,
        )
    except _git_errors() as exc:
        raise ApprovalsError(str(exc)) from None
    return ApprovalCommit(record, written, notes)


def list_approvals(
    cfg: Config, repo_path: str | Path = ".", revision: str = "HEAD"
) -> list[ApprovalDecision]:
    """Every JobApproval in the repository at ``revision``, who committed it and whether it counts: the very
    decisions ``sync`` applies at the same commit (``verdict``: OK, WAITING, IGNORED or INVALID)."""
    from reconciler.approvals.decisions import collect

    try:
        return collect(str(repo_path), revision, None, cfg, subpath=_subpath(cfg))
    except _git_errors() as exc:
        raise ApprovalsError(str(exc)) from None


def job_digest(
    cfg: Config,
    job: str,
    namespace: str = "cross-domain",
    repo_path: str | Path = ".",
    revision: str = "HEAD",
) -> str:
    """The jobSpecDigest (``sha256:...``) of ``job`` at ``revision``: what a JobApproval for it must name."""
    from reconciler.approvals.history import open_repo

    try:
        found = _the_job(open_repo(str(repo_path)), revision, job, namespace, cfg)
    except _git_errors() as exc:
        raise ApprovalsError(str(exc)) from None
    if found is None:
        raise ApprovalsError(f"no {KUSCIA_JOB} {job} in namespace {namespace} at {revision}")
    return found.digest


@dataclass(frozen=True)
class ReviewRecords:
    """``records`` made from one review, each with its file ``text``; ``written``: paths written (empty for a
    dry run); ``reviewer``: the GitHub login; ``notes``: reviews that made no record, and why."""

    records: list[tuple[ApprovalRecord, str]]
    written: list[str]
    reviewer: str
    notes: list[str] = field(default_factory=list)


def records_from_review(
    cfg: Config,
    event_file: str | Path,
    repo_path: str | Path = ".",
    jobs: tuple[str, ...] = (),
    dry_run: bool = False,
) -> ReviewRecords:
    """Turn a ``pull_request_review`` event file (``$GITHUB_EVENT_PATH``) into approval records for the
    pull request's added or changed jobs (or ``jobs``), bound to the commit the reviewer saw; unless
    ``dry_run``, write them into the repository's working tree (commit and push them yourself)."""
    from reconciler.approvals.github import GitHubEventError, parse_review_event, records_for_review
    from reconciler.approvals.history import HistoryError, open_repo
    from reconciler.approvals.jobs import jobs_at, jobs_changed
    from reconciler.approvals.records import record_path, render_record

    data = _read_json(Path(event_file))
    try:
        event = parse_review_event(data)
    except GitHubEventError as exc:
        raise ApprovalsError(f"{event_file}: {exc}") from None
    reviewed = event.reviewed_commit or event.head_sha  # the records bind to the specs the reviewer saw
    try:
        repo = open_repo(str(repo_path))
        if jobs:
            sub = _subpath(cfg)
            found = [j for j in jobs_at(repo, reviewed, under=sub) if j.name in jobs]
            missing = sorted(set(jobs) - {j.name for j in found})
            if missing:
                raise ApprovalsError(f"no {KUSCIA_JOB} named {', '.join(missing)} at {reviewed[:12]}")
        else:
            found = [j for j in jobs_changed(repo, event.base_sha, reviewed) if j.path]
    except HistoryError as exc:
        raise ApprovalsError(
            str(exc),
            hint="check out the pull request with its history (actions/checkout with fetch-depth: 0)",
        ) from None
    folder = approvals_dir(cfg)
    records, notes = records_for_review(event, found, cfg.approvals)
    if folder != cfg.approvals.dir:
        records = [replace(r, path=record_path(folder, r.domain, r.job)) for r in records]
    workdir = Path(repo.workdir or repo_path)
    texts = [(r, render_record(r)) for r in records]
    written: list[str] = []
    for rec, text in [] if dry_run else texts:
        target = workdir / rec.path
        if workdir.resolve() not in target.resolve().parents:  # names come from the pull request
            raise ApprovalsError(f"refusing to write {rec.path}: it would leave the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(rec.path)
    return ReviewRecords(texts, written, event.login, notes)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApprovalsError(f"{path}: cannot read the event file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApprovalsError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
