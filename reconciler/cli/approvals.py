"""``kgitops approve`` and ``kgitops approvals``: approving jobs through Git commits and PR reviews."""

from __future__ import annotations

import json

import click

from reconciler import sdk
from reconciler.cli.common import cli_config, config_option
from reconciler.cli.common import output_option as _output_option
from reconciler.cli.handler import Command, Group
from reconciler.output.printable import printable

_repo_option = click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The Git repository (any directory inside it).",
)
_read_repo_option = click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    default=None,
    help="The Git repository (any directory inside it; default: the config's source.path, else `.`).",
)


@click.command(cls=Command)
@click.argument("job")
@click.option("--domain", "-d", required=True, help="The domain (party) you approve for.")
@click.option("--reject", is_flag=True, help="Reject the job instead (it ends in ApprovalReject).")
@click.option("--reason", default="", help="Why; kept in the record and the commit message.")
@click.option("-n", "--namespace", default="cross-domain", show_default=True, help="The job's namespace.")
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
@config_option
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
    done = sdk.commit_approval(
        cli_config(config_path),
        job,
        domain,
        reject=reject,
        reason=reason,
        namespace=namespace,
        repo_path=repo_path,
        base=base,
        branch=branch,
        sign=sign,
        signing_key=signing_key,
        signing_format=signing_format or "",
        job_at=job_at,
        digest=digest,
        author_name=author_name,
        author_email=author_email,
    )
    for note in done.notes:
        click.echo(f"note: {note}", err=True)
    written = done.written
    verb = "rejection" if reject else "approval"
    signed = ", signed" if written.signed else ""
    click.echo(
        f"committed the {verb} of job {job} for {domain} as {written.path} on branch {written.branch} "
        f"(commit {written.commit[:12]}{signed}; job spec {done.record.job_digest})"
    )
    click.echo(f"next: git push origin {written.branch}, then open a pull request")


@click.group(cls=Group)
def approvals() -> None:
    """Approval records: list them with their verdicts, or make them from GitHub reviews."""


@approvals.command("list")
@_read_repo_option
@click.option("--revision", default="HEAD", show_default=True, help="Commit to read the records at.")
@_output_option(("text", "json"))
@config_option
def list_(repo_path: str | None, revision: str, output: str, config_path: str | None) -> None:
    """Every JobApproval in the repository, who committed it, and whether it counts (and if not, why).

    The verdicts are the very decisions ``kgitops sync`` applies at the same commit: OK (counts), WAITING
    (counts once its job is in the repository), IGNORED (with why) or INVALID (a broken file).
    """
    cfg = cli_config(config_path)
    repo = sdk.approvals_repo(cfg, repo_path)
    folder = sdk.approvals_dir(cfg)
    click.echo(f"reading: approval records in {folder}/ of {repo.resolve()} at {revision}", err=True)
    decisions = sdk.list_approvals(cfg, repo, revision)
    if output == "json":
        click.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        return
    if not decisions:
        click.echo(f"no approval records under {folder}/")
    for d in decisions:
        if d.job is None:
            click.echo(printable(f"INVALID  {d.why_not}"))
            continue
        by = f" by {d.who} ({d.commit[:12]}, {d.path})" if d.commit else f" ({d.path})"
        click.echo(printable(f"{d.verdict:<7}  {d.decision} {d.job.name} for {d.domain}{by}"))
        if not d.trusted:
            click.echo(printable(f"         why: {d.why_not}"))
        elif d.waiting:
            click.echo(printable(f"         note: {d.waiting}"))


@approvals.command("digest")
@click.argument("job")
@click.option("-n", "--namespace", default="cross-domain", show_default=True, help="The job's namespace.")
@_repo_option
@click.option("--revision", default="HEAD", show_default=True, help="Commit to read the job at.")
@config_option
def digest_(job: str, namespace: str, repo_path: str, revision: str, config_path: str | None) -> None:
    """Print the jobSpecDigest of JOB at a commit: what a JobApproval for this version of it must name."""
    click.echo(sdk.job_digest(cli_config(config_path), job, namespace, repo_path, revision))


@approvals.command("from-github-event")
@click.argument("event_file", type=click.Path(dir_okay=False))
@_repo_option
@click.option(
    "-j", "--job", "jobs", multiple=True, help="Record for this job (default: the PR's added/changed jobs)."
)
@click.option("--dry-run", is_flag=True, help="Print the records instead of writing them.")
@config_option
def from_github_event(
    event_file: str, repo_path: str, jobs: tuple[str, ...], dry_run: bool, config_path: str | None
) -> None:
    """Turn a pull_request_review event (EVENT_FILE, e.g. $GITHUB_EVENT_PATH) into approval record files.

    The files are written into the repository's working tree; commit and push them (see the example workflow).
    """
    made = sdk.records_from_review(cli_config(config_path), event_file, repo_path, jobs, dry_run)
    for note in made.notes:
        click.echo(printable(f"note: {note}"), err=True)
    for rec, text in made.records:
        if dry_run:
            click.echo(f"# {rec.path}\n{text}", nl=False)
        else:
            wrote = f"wrote {rec.path}: {rec.decision} job {rec.job} for {rec.domain}"
            wrote += f" (review by {made.reviewer})"
            click.echo(printable(wrote))
