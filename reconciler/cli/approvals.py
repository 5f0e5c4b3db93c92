"""``kgitops approve`` and ``kgitops approvals``: approving jobs through Git commits and PR reviews."""

from __future__ import annotations

import json
import posixpath
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from reconciler.approvals.decisions import collect
from reconciler.approvals.github import GitHubEventError, parse_review_event, records_for_review
from reconciler.approvals.history import HistoryError, open_repo
from reconciler.approvals.jobs import JobSummary, jobs_at, jobs_changed
from reconciler.approvals.records import (
    ApprovalRecord,
    Decision,
    parse_record,
    record_name,
    record_path,
    render_record,
)
from reconciler.approvals.signatures import SigningError
from reconciler.approvals.writer import WriteError, commit_record, identity, signing_from_git
from reconciler.cli.common import read_config
from reconciler.config import Config

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    envvar="KGITOPS_CONFIG",
    help="Config file (default: ./kgitops.yaml if present).",
)
_repo_option = click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The Git repository (any directory inside it).",
)


def _config(path: str | None) -> Config:
    return read_config(path)


def _approvals_dir(cfg: Config) -> str:
    """The approvals folder relative to the repository root (the source's subpath, if any, comes first)."""
    sub = cfg.source.subpath.strip("/")
    return posixpath.normpath(posixpath.join(sub, cfg.approvals.dir)) if sub else cfg.approvals.dir


@click.command()
@click.argument("job")
@click.option("--domain", "-d", required=True, help="The domain (party) you approve for.")
@click.option("--reject", is_flag=True, help="Reject the job instead (it ends in ApprovalReject).")
@click.option("--reason", default="", help="Why; kept in the record and the commit message.")
@click.option("--namespace", default="cross-domain", show_default=True, help="The job's namespace.")
@_repo_option
@click.option(
    "--base", default="HEAD", show_default=True, help="Branch or commit to start the new branch from."
)
@click.option(
    "--branch", default="", help="New branch name (default: <approvals.branch_prefix><domain>/<job>)."
)
@click.option(
    "--sign/--no-sign", default=False, help="Sign the commit (git's gpg.format and user.signingkey)."
)
@click.option(
    "--signing-key", default="", help="SSH private key file or OpenPGP key id (overrides git config)."
)
@click.option("--signing-format", type=click.Choice(["ssh", "openpgp"]), default=None, help="Signature kind.")
@click.option(
    "--job-at",
    default="",
    help="Branch or commit whose version of the job you decide on (default: --base); its spec digest is "
    "recorded, and the decision applies to that spec only.",
)
@click.option(
    "--digest", default="", help="Record this jobSpecDigest instead of reading the job (sha256:...)."
)
@click.option("--author-name", default="", help="Committer name (default: git's user.name).")
@click.option("--author-email", default="", help="Committer e-mail (default: git's user.email).")
@_config_option
def approve(
    job: str,
    domain: str,
    reject: bool,
    reason: str,
    namespace: str,
    repo_path: str,
    base: str,
    branch: str,
    sign: bool,
    signing_key: str,
    signing_format: str | None,
    job_at: str,
    digest: str,
    author_name: str,
    author_email: str,
    config_path: str | None,
) -> None:
    """Approve (or --reject) JOB for a domain: commit a JobApproval on a new branch, ready for a PR.

    The record names the digest of the job's spec as it is at --job-at (default --base), so it decides on
    exactly that spec: if the job changes, the record stops counting and a new decision is needed.
    """
    cfg = _config(config_path)
    folder = _approvals_dir(cfg)
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
        raise click.ClickException(checked.message)
    try:
        repo = open_repo(repo_path)
        who = identity(repo, author_name, author_email)
        signing = signing_from_git(repo, signing_format or "", signing_key) if sign else None
        found = _the_job(repo, job_at or base, job, namespace, cfg)
        if found is None and not digest:
            raise click.ClickException(
                f"job {job} (namespace {namespace}) is not at {job_at or base}, so there is no spec to "
                "decide on: pass --job-at with the branch or commit that holds it (e.g. the pull request's "
                "branch), or --digest"
            )
        if found is not None and not digest:
            record = replace(record, job_digest=found.digest)
        elif found is not None and digest != found.digest:
            click.echo(
                f"note: --digest differs from job {job} at {job_at or base} ({found.digest}); the record "
                "counts only for the spec you named",
                err=True,
            )
        for note in _party_notes(found, record):
            click.echo(f"note: {note}", err=True)
        written = commit_record(
            repo,
            record,
            branch=branch or f"{cfg.approvals.branch_prefix}{domain}/{job}",
            base=base,
            who=who,
            signing=signing,
        )
    except (HistoryError, WriteError, SigningError) as exc:
        raise click.ClickException(str(exc)) from None
    verb = "rejection" if reject else "approval"
    click.echo(
        f"committed the {verb} of job {job} for {domain} as {written.path} on branch {written.branch} "
        f"(commit {written.commit[:12]}{', signed' if written.signed else ''}; job spec {record.job_digest})"
    )
    click.echo(f"next: git push origin {written.branch}, then open a pull request")


def _the_job(repo: Any, revision: str, name: str, namespace: str, cfg: Config) -> JobSummary | None:
    """The job as sync would read it at ``revision`` (below the source's subpath)."""
    sub = cfg.source.subpath.strip("/")
    found = [j for j in jobs_at(repo, revision, under=sub) if j.name == name and j.namespace == namespace]
    if len({j.digest for j in found}) > 1:
        paths = ", ".join(sorted(j.path for j in found))
        raise click.ClickException(
            f"job {name} is defined more than once at {revision} ({paths}); fix that first"
        )
    return found[0] if found else None


def _party_notes(job: JobSummary | None, record: ApprovalRecord) -> list[str]:
    if job is None:
        return [f"job {record.job} is not in the repository yet; the record waits until it arrives"]
    if record.domain == job.initiator:
        return [f"{record.domain} is the initiator of job {job.name}; its approval is implicit"]
    if record.domain not in job.parties:
        return [f"{record.domain} is not a party of job {job.name} (parties: {', '.join(job.parties)})"]
    return []


@click.group()
def approvals() -> None:
    """Approval records: list them with their verdicts, or make them from GitHub reviews."""


@approvals.command("list")
@_repo_option
@click.option("--revision", default="HEAD", show_default=True, help="Commit to read the records at.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
def list_(repo_path: str, revision: str, as_json: bool, config_path: str | None) -> None:
    """Every JobApproval in the repository, who committed it, and whether it counts (and if not, why).

    The verdicts are the very decisions ``kgitops sync`` applies at the same commit: OK (counts), WAITING
    (counts once its job is in the repository), IGNORED (with why) or INVALID (a broken file).
    """
    cfg = _config(config_path)
    root = Path(repo_path).resolve()
    click.echo(f"reading: approval records in {_approvals_dir(cfg)}/ of {root} at {revision}", err=True)
    try:
        decisions = collect(repo_path, revision, None, cfg, subpath=cfg.source.subpath.strip("/"))
    except HistoryError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        return
    if not decisions:
        click.echo(f"no approval records under {_approvals_dir(cfg)}/")
    for d in decisions:
        if d.job is None:
            click.echo(f"INVALID  {d.why_not}")
            continue
        by = f" by {d.who} ({d.commit[:12]}, {d.path})" if d.commit else f" ({d.path})"
        click.echo(f"{d.verdict:<7}  {d.decision} {d.job.name} for {d.domain}{by}")
        if not d.trusted:
            click.echo(f"         why: {d.why_not}")
        elif d.waiting:
            click.echo(f"         note: {d.waiting}")


@approvals.command("digest")
@click.argument("job")
@click.option("--namespace", default="cross-domain", show_default=True, help="The job's namespace.")
@_repo_option
@click.option("--revision", default="HEAD", show_default=True, help="Commit to read the job at.")
@_config_option
def digest_(job: str, namespace: str, repo_path: str, revision: str, config_path: str | None) -> None:
    """Print the jobSpecDigest of JOB at a commit: what a JobApproval for this version of it must name."""
    cfg = _config(config_path)
    try:
        found = _the_job(open_repo(repo_path), revision, job, namespace, cfg)
    except HistoryError as exc:
        raise click.ClickException(str(exc)) from None
    if found is None:
        raise click.ClickException(f"no KusciaJob {job} in namespace {namespace} at {revision}")
    click.echo(found.digest)


@approvals.command("from-github-event")
@click.argument("event_file", type=click.Path(dir_okay=False))
@_repo_option
@click.option(
    "--job", "jobs", multiple=True, help="Record for this job (default: the PR's added/changed jobs)."
)
@click.option("--dry-run", is_flag=True, help="Print the records instead of writing them.")
@_config_option
def from_github_event(
    event_file: str, repo_path: str, jobs: tuple[str, ...], dry_run: bool, config_path: str | None
) -> None:
    """Turn a pull_request_review event (EVENT_FILE, e.g. $GITHUB_EVENT_PATH) into approval record files.

    The files are written into the repository's working tree; commit and push them (see the example workflow).
    """
    cfg = _config(config_path)
    data = _read_json(event_file)
    try:
        event = parse_review_event(data)
    except GitHubEventError as exc:
        raise click.ClickException(f"{event_file}: {exc}") from None
    reviewed = event.reviewed_commit or event.head_sha  # the records bind to the specs the reviewer saw
    try:
        repo = open_repo(repo_path)
        folder = _approvals_dir(cfg)
        if jobs:
            sub = cfg.source.subpath.strip("/")
            found = [j for j in jobs_at(repo, reviewed, under=sub) if j.name in jobs]
            missing = sorted(set(jobs) - {j.name for j in found})
            if missing:
                raise click.ClickException(f"no KusciaJob named {', '.join(missing)} at {reviewed[:12]}")
        else:
            found = [j for j in jobs_changed(repo, event.base_sha, reviewed) if j.path]
    except HistoryError as exc:
        raise click.ClickException(
            f"{exc}. Check out the pull request with its history (actions/checkout with fetch-depth: 0)"
        ) from None
    approvals_cfg = cfg.approvals
    records, notes = records_for_review(event, found, approvals_cfg)
    if folder != approvals_cfg.dir:
        records = [replace(r, path=record_path(folder, r.domain, r.job)) for r in records]
    for note in notes:
        click.echo(f"note: {note}", err=True)
    workdir = Path(repo.workdir or repo_path)
    for rec in records:
        text = render_record(rec)
        if dry_run:
            click.echo(f"# {rec.path}\n{text}", nl=False)
            continue
        target = workdir / rec.path
        if workdir.resolve() not in target.resolve().parents:  # names come from the pull request
            raise click.ClickException(f"refusing to write {rec.path}: it would leave the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(
            f"wrote {rec.path}: {rec.decision} job {rec.job} for {rec.domain} (review by {event.login})"
        )


def _read_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the event file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
