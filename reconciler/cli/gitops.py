"""``kgitops diff | sync | watch | status``: keep a backend in line with a directory or Git repository.

Each command turns its flags into ``reconciler.sdk.Overrides`` and ``RunOptions`` (the shared flags are
``reconciler.cli.source_flags``), makes one SDK call and prints the result; Ctrl-C says what keeps running."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from reconciler import sdk
from reconciler.cli import exitcodes
from reconciler.cli.common import DURATION, colour_option, emit_text, say_what_is_read, use_colour
from reconciler.cli.handler import Command
from reconciler.cli.source_flags import grace_option, run_settings, source_options
from reconciler.output.printable import printable

SECONDS = click.FloatRange(0, 86400, min_open=True)  # the ranges of schemas/config.json


def interrupted_message(command: str, kwargs: dict[str, Any]) -> str:
    """What Ctrl-C leaves behind, and how to follow it: the jobs keep running in the backend."""
    named = (("config_path", "--config"), ("state_dir", "--state-dir"), ("backend_kind", "--backend"))
    flags = "".join(f" {flag} {kwargs[key]}" for key, flag in named if kwargs.get(key))
    if command in ("diff", "status"):
        return "interrupted (SIGINT); nothing was changed"
    return (
        f"interrupted (SIGINT): kgitops {command} stopped, but what it applied stays and the jobs keep "
        f"running in the backend. Follow them with `kgitops job list{flags}`, "
        f"`kgitops job show NAME{flags}` or `kgitops status{flags}`"
    )


def _interruptible(command: str, kwargs: dict[str, Any], run: Callable[[], None]) -> None:
    try:
        run()
    except KeyboardInterrupt:
        click.echo(interrupted_message(command, kwargs), err=True)
        sys.exit(exitcodes.INTERRUPTED)


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command(cls=Command)
@source_options
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option("-v", "--verbose", is_flag=True, help="List unchanged objects too.")
@colour_option
@click.option(
    "--comment", is_flag=True, help="Create or update the plan comment on the pull request (forge.* config)."
)
@click.option("--pull-request", type=click.IntRange(min=1), default=None, help="Pull/merge request number.")
@click.option("--forge-url", default=None, help="The forge's API base URL (overrides forge.url).")
def diff(
    output: str,
    verbose: bool,
    color: bool | None,
    comment: bool,
    pull_request: int | None,
    forge_url: str | None,
    **kwargs: Any,
) -> None:
    """Show what sync would do: create, unchanged, changed, prune, held, unmanaged.

    Exit 0 when in sync; 1 on any difference (create, change, prune, OutOfSync, held); 2 on error.
    With --comment, the plan also goes to the pull request as one comment, edited in place on a re-run."""
    from reconciler.render.plan import render

    cfg, options = run_settings(kwargs)
    say_what_is_read(cfg)
    plans: list[Any] = []
    if comment:  # which approvals count is read only for the comment: it reads every job in the commit
        _interruptible("diff", kwargs, lambda: plans.append(sdk.diff_for_comment(cfg, options)))
    else:
        brief = output == "text" and not verbose  # the text shows no unchanged entry: none need be judged
        _interruptible("diff", kwargs, lambda: plans.append((sdk.diff(cfg, options, brief), set())))
    plan, approved = plans[0]
    colour = use_colour(color) and output == "text"
    emit_text(render(plan, output, colour=colour, verbose=verbose), color, nl=False)
    if comment:  # a forge failure is a warning: the diff itself stands
        try:
            click.echo(sdk.post_plan_comment(cfg, plan, approved, pull_request, forge_url or ""), err=True)
        except sdk.PlanCommentError as exc:
            click.echo(printable(f"warning: {exc}"), err=True)
    if plan.error:
        click.echo(printable(f"error: the source failed: {plan.error}"), err=True)
    sys.exit(exitcodes.diff_code(plan.error, plan.in_sync))


@click.command(cls=Command)
@source_options
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option(
    "--wait", is_flag=True, help="Follow the jobs this sync created, re-created, changed or approved."
)
@click.option(
    "--timeout", type=DURATION, default=None, help="How long to wait at most: 600, 90s, 10m, 1h30m."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@grace_option
def sync(
    dry_run: bool,
    wait: bool,
    timeout: float | None,
    output: str,
    prune_grace_period: float | None,
    **kwargs: Any,
) -> None:
    """Apply the plan: create new objects, update AppImages, prune (when enabled), write status.

    Changed jobs are reported OutOfSync, not re-run (use --recreate NAME or the kgitops.io/on-change:
    recreate annotation). One writer at a time per state directory: a second sync (or a watch) waits.
    Exit 0 when everything was applied or unchanged; 1 when anything is held, OutOfSync, failed or
    refused (or, with --wait, a job failed or the timeout passed); 2 on a usage or I/O error; 130 on
    Ctrl-C."""
    from reconciler.render.sync import data_dir_lines, sync_document, sync_lines

    cfg, options = run_settings(kwargs, prune_grace_period=prune_grace_period)

    def show(report: sdk.SyncReport) -> None:
        if output == "json":
            doc = sync_document(report.result, report.problems, report.transitions, dry_run)
            click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        else:
            out, err = sync_lines(report.result, report.problems, dry_run)
            for line in out:
                click.echo(line)
            for line in err:
                click.echo(line, err=True)
        for problem in report.status_errors:
            click.echo(printable(f"warning: {problem}"), err=True)

    def progress(p: Any) -> None:
        if output != "json":
            click.echo(printable(f"  {p.line()}"))

    reports: list[sdk.SyncReport] = []

    def run() -> None:
        reports.append(
            sdk.sync(
                cfg, options, dry_run, wait, timeout, on_synced=show, on_progress=progress, on_lock_wait=_say,
                differences_only=output == "text",  # the text shows no unchanged object; JSON lists each
            )
        )

    _interruptible("sync", kwargs, run)
    report = reports[0]
    waited = report.waited
    if waited is None:
        show(report)
    else:
        if not waited.final and output == "text":
            click.echo("nothing to wait for: this sync created, re-created, changed or approved no job")
        for p in waited.bad:
            ended = f"job {p.ref.name} ended {p.phase}" + (f": {p.message}" if p.message else "")
            click.echo(printable(ended), err=True)
        if not waited.finished:
            limit = f"{timeout:g}s" if timeout is not None else "the timeout"
            click.echo(f"timed out after {limit} waiting for {len(waited.unfinished)} job(s):", err=True)
            for p in waited.unfinished:
                click.echo(printable(f"  {p.reason()}"), err=True)
        if output == "text":
            for line in data_dir_lines(report.data_dirs):
                click.echo(line)
    sys.exit(exitcodes.sync_code(report))


@click.command(cls=Command)
@source_options
@click.option("--poll-interval", type=SECONDS, default=None, help="Seconds between Git fetches (default 30).")
@click.option(
    "--resync-interval", type=SECONDS, default=None, help="Seconds between full resyncs (default 300)."
)
@click.option(
    "--status-interval", type=SECONDS, default=None, help="Seconds between status refreshes (default 5)."
)
@click.option(
    "--debounce", type=click.FloatRange(0, 60), default=None, help="Seconds of quiet ending an event burst."
)
@click.option("--metrics-addr", default=None, help="HOST:PORT serving /metrics and /healthz.")
@click.option(
    "--webhook-listen", default=None, help="HOST:PORT receiving push webhooks (see docs/webhooks.md)."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default=None, help="Log format (default text)."
)
@click.option(
    "--leader-elect/--no-leader-elect",
    default=None,
    help="Replicas elect one leader on a Lease; only it reconciles (default: on for the kubernetes backend "
    "in a Pod).",
)
@click.option(
    "--leader-elect-lease", default=None, metavar="NAME", help="The Lease (default: kgitops-leader-<source>)."
)
@click.option(
    "--leader-elect-namespace", default=None, metavar="NS", help="The Lease's namespace (default: the jobs')."
)
@click.option(
    "--leader-elect-lease-duration",
    type=SECONDS,
    default=None,
    help="Seconds without renewal before a follower takes the Lease over (default 15).",
)
@click.option(
    "--leader-elect-renew-deadline",
    type=SECONDS,
    default=None,
    help="Seconds a leader leads without renewing, then it steps down (default 10).",
)
@click.option(
    "--leader-elect-retry-period",
    type=SECONDS,
    default=None,
    help="Seconds between tries to acquire or renew the Lease (default 2).",
)
@grace_option
def watch(
    poll_interval: float | None,
    resync_interval: float | None,
    status_interval: float | None,
    debounce: float | None,
    metrics_addr: str | None,
    webhook_listen: str | None,
    log_format: str | None,
    leader_elect: bool | None,
    leader_elect_lease: str | None,
    leader_elect_namespace: str | None,
    leader_elect_lease_duration: float | None,
    leader_elect_renew_deadline: float | None,
    leader_elect_retry_period: float | None,
    prune_grace_period: float | None,
    **kwargs: Any,
) -> None:
    """Reconcile continuously: on file changes (directory) or new commits (Git), on a resync timer, and write
    status back. Stops cleanly between two reconciles: exit 0 on SIGTERM, 130 on SIGINT (Ctrl-C).

    Replicas (--leader-elect) elect one leader on a Lease: only it reconciles; the others follow and take over
    when it stops (at once on SIGTERM) or stops renewing (after the lease duration)."""
    flags = dict(kwargs)
    cfg, options = run_settings(
        kwargs,
        poll_interval=poll_interval,
        resync_interval=resync_interval,
        status_interval=status_interval,
        debounce=debounce,
        metrics_addr=metrics_addr,
        log_format=log_format,
        webhook_listen=webhook_listen,
        leader_elect=leader_elect,
        leader_elect_lease=leader_elect_lease,
        leader_elect_namespace=leader_elect_namespace,
        lease_duration=leader_elect_lease_duration,
        renew_deadline=leader_elect_renew_deadline,
        retry_period=leader_elect_retry_period,
        prune_grace_period=prune_grace_period,
    )
    if sdk.watch(cfg, options) == signal.SIGINT:
        click.echo(interrupted_message("watch", flags), err=True)
        sys.exit(exitcodes.INTERRUPTED)


@click.command(cls=Command)
@source_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(output: str, **kwargs: Any) -> None:
    """Managed objects with their sync state, live phase, revision and age.

    -o json gives real values: the creation time in ISO 8601 (`created`), the age in seconds (`ageSeconds`),
    and "" (not "-") where there is no phase or revision."""
    from reconciler.render.status import status_table
    from reconciler.render.sync import held_file_lines

    cfg, options = run_settings(kwargs)
    say_what_is_read(cfg)
    reports: list[sdk.StatusReport] = []
    _interruptible("status", kwargs, lambda: reports.append(sdk.status(cfg, options)))
    report = reports[0]
    plan = report.plan
    if output == "json":
        click.echo(json.dumps([r.to_dict() for r in report.rows], indent=2, ensure_ascii=False))
    else:
        click.echo(status_table(report.rows), nl=False)
        for line in held_file_lines(plan.held_files):
            click.echo(f"held file: {line}")
        if plan.prune_refused:
            click.echo(printable(f"prune refused: {plan.prune_refused}"))
    if plan.error:
        click.echo(printable(f"error: the source failed: {plan.error}"), err=True)
        sys.exit(exitcodes.ERROR)
