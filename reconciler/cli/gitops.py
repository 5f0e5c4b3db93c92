"""``kgitops diff | sync | watch | status``: keep a backend in line with a directory or Git repository."""

from __future__ import annotations

import functools
import json
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli import exitcodes
from reconciler.cli.common import backend_options, load_cli_config, say_what_is_read
from reconciler.config import Config

F = TypeVar("F", bound=Callable[..., Any])
EXIT_ERROR = exitcodes.ERROR


class GitopsError(Exception):
    """A usage, config, source or backend problem: one line on stderr, exit 2."""


def source_options(func: F) -> F:
    options = [
        click.argument("source", required=False),
        click.option(
            "--git", "as_git", is_flag=True, help="Read SOURCE as a Git repository (committed tree)."
        ),
        click.option(
            "--ref", default=None, help="Branch, tag or commit of a Git source (default: its default branch)."
        ),
        click.option(
            "--path", "subpath", default=None, help="Sub-directory of the source holding the manifests."
        ),
        click.option(
            "--status-dir", default=None, type=click.Path(file_okay=False), help="Write status files here."
        ),
        click.option(
            "--status-branch", default=None, help="Branch for status commits (default: kgitops/status)."
        ),
        click.option("--no-status-commit", is_flag=True, help="Do not commit status to the status branch."),
        click.option("--no-push", is_flag=True, help="Keep the status branch of a URL source local."),
        click.option("--prune/--no-prune", default=None, help="Delete managed objects that left the source."),
        click.option(
            "--max-prune",
            type=click.IntRange(min=0),
            default=None,
            help="Refuse plans pruning more than this many objects (0: prune nothing; default: no limit).",
        ),
        click.option(
            "--recreate", multiple=True, metavar="NAME", help="Re-run this changed job (repeatable)."
        ),
        click.option(
            "--recreate-drifted/--no-recreate-drifted",
            default=None,
            help="Re-create managed objects deleted or changed outside kgitops (default: only report).",
        ),
        click.option(
            "--ssh-key", default=None, type=click.Path(dir_okay=False), help="SSH key for a Git URL."
        ),
        click.option("--source-id", default=None, help="Name of the source in labels and the inventory."),
        click.option(
            "--max-file-size",
            default=None,
            metavar="SIZE",
            help="Larger manifest files are held, not parsed (bytes, or e.g. 512KiB, 5MiB; default 5MiB).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return backend_options(func)


def _configure(
    config_path: str | None,
    backend_kind: str | None,
    state_dir: str | None,
    source: str | None,
    as_git: bool,
    ref: str | None,
    subpath: str | None,
    status_dir: str | None,
    status_branch: str | None,
    no_status_commit: bool,
    no_push: bool,
    prune: bool | None,
    max_prune: int | None,
    recreate_drifted: bool | None = None,
    ssh_key: str | None = None,
    source_id: str | None = None,
) -> Config:
    """The config file with every flag applied on top (flags win)."""
    cfg = load_cli_config(config_path, backend_kind, state_dir)
    if source:
        from reconciler.source import looks_like_url

        cfg.source.path = source if looks_like_url(source) else str(Path(source).resolve())
        cfg.source.git = as_git
    elif as_git:
        cfg.source.git = True
    if ref is not None:
        cfg.source.ref = ref
    if subpath is not None:
        cfg.source.subpath = subpath
    if status_dir is not None:
        cfg.status.dir = str(Path(status_dir).resolve())
    if status_branch is not None:
        cfg.status.branch = status_branch
    if no_status_commit:
        cfg.status.commit = False
    if no_push:
        cfg.status.push = False
    if prune is not None:
        cfg.prune.enabled = prune
    if max_prune is not None:
        cfg.prune.max = max_prune
    if recreate_drifted is not None:
        cfg.sync.recreate_drifted = recreate_drifted
    if ssh_key is not None:
        cfg.source.ssh_key = str(Path(ssh_key).expanduser().resolve())
    if source_id is not None:
        cfg.source.id = source_id
    return cfg


@dataclass(frozen=True)
class RunFlags:
    """Flags of one run that are not config settings."""

    recreate: tuple[str, ...] = ()
    max_file_size: int | None = None


def _settings(kwargs: dict[str, Any]) -> tuple[Config, RunFlags]:
    from reconciler.cli.validate import parse_size

    recreate = tuple(kwargs.pop("recreate", ()) or ())
    size = kwargs.pop("max_file_size", None)
    return _configure(**kwargs), RunFlags(recreate, parse_size(size) if size else None)


@contextmanager
def _session(cfg: Config, flags: RunFlags, command: str = "kgitops", readonly: bool = False) -> Iterator[Any]:
    """The source and the backend. ``readonly`` (diff, status): say what is read, and create no state (the
    engine is opened read-only; without engine state, a Git URL is cloned into a temporary directory)."""
    from reconciler.apply.session import open_session
    from reconciler.backends.base import BackendError
    from reconciler.backends.factory import open_backend
    from reconciler.source import SourceError
    from reconciler.validate import Options

    if readonly:
        say_what_is_read(cfg)
    try:
        backend = open_backend(cfg, readonly=readonly)
    except BackendError as exc:
        raise GitopsError(f"cannot open the {cfg.backend.kind} backend: {exc}") from None
    with ExitStack() as stack:
        stack.callback(backend.close)
        if readonly and not cfg.state_dir.is_dir():
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="kgitops-"))
            cfg = replace(cfg, engine=replace(cfg.engine, state_dir=scratch))
        try:
            options = Options(max_file_size=flags.max_file_size) if flags.max_file_size else None
            session = open_session(cfg, backend, flags.recreate, command, options)
        except SourceError as exc:
            raise GitopsError(str(exc)) from None
        yield session


def _guard(func: F) -> F:
    """Every expected failure becomes one line on stderr and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from reconciler.backends.base import BackendError
        from reconciler.source import SourceError
        from reconciler.status import StatusCommitError

        try:
            return func(*args, **kwargs)
        except (GitopsError, SourceError, BackendError, StatusCommitError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo(interrupted_message(func.__name__, kwargs), err=True)
            sys.exit(exitcodes.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


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


def _colour() -> bool:
    return sys.stdout.isatty()


class Duration(click.ParamType):
    """Seconds, or a duration with units (``90s``, ``10m``, ``1h30m``)."""

    name = "duration"
    _PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        try:
            return float(text)
        except ValueError:
            pass
        parts = self._PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(
                f"{value!r} is not a duration; use seconds or units, e.g. 600, 90s, 10m, 1h30m", param, ctx
            )
        return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


DURATION = Duration()
SECONDS = click.FloatRange(0, 86400, min_open=True)  # the ranges of schemas/config.json

OUTPUT = click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)


@click.command()
@source_options
@OUTPUT
@click.option("-v", "--verbose", is_flag=True, help="List unchanged objects too.")
@click.option(
    "--comment", is_flag=True, help="Create or update the plan comment on the pull request (forge.* config)."
)
@click.option("--pull-request", type=click.IntRange(min=1), default=None, help="Pull/merge request number.")
@click.option("--forge-url", default=None, help="The forge's API base URL (overrides forge.url).")
@_guard
def diff(
    fmt: str, verbose: bool, comment: bool, pull_request: int | None, forge_url: str | None, **kwargs: Any
) -> None:
    """Show what sync would do: create, unchanged, changed, prune, held, unmanaged.

    Exit 0 when in sync; 1 on any difference (create, change, prune, OutOfSync, held); 2 on error.
    With --comment, the plan also goes to the pull request as one comment, edited in place on a re-run."""
    from reconciler.plan.report import render

    cfg, flags = _settings(kwargs)
    with _session(cfg, flags, readonly=True) as session:
        planned = session.reconciler.plan()
        approved = _approved_in_git(cfg, session.source, planned.plan.revision) if comment else set()
    plan = planned.plan
    click.echo(render(plan, fmt, colour=_colour() and fmt == "text", verbose=verbose), nl=False)
    if comment:  # issue 16: the plan comment on the pull request (reconciler.forge)
        _post_plan_comment(cfg, plan, approved, pull_request, forge_url or "")
    if plan.error:
        click.echo(f"error: the source failed: {plan.error}", err=True)
    sys.exit(exitcodes.diff_code(plan))


@click.command()
@source_options
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--wait", is_flag=True, help="Follow the managed jobs to a final phase.")
@click.option(
    "--timeout", type=DURATION, default=None, help="How long to wait at most: 600, 90s, 10m, 1h30m."
)
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def sync(dry_run: bool, wait: bool, timeout: float | None, fmt: str, **kwargs: Any) -> None:
    """Apply the plan: create new objects, update AppImages, prune (when enabled), write status.

    Changed jobs are reported OutOfSync, not re-run (use --recreate NAME or the kgitops.io/on-change:
    recreate annotation). One writer at a time per state directory: a second sync (or a watch) waits.
    Exit 0 when everything was applied or unchanged; 1 when anything is held, OutOfSync, failed or
    refused (or, with --wait, a job failed or the timeout passed); 2 on a usage or I/O error; 130 on
    Ctrl-C."""
    from reconciler.cli.sync_output import (
        approve_hint,
        followed,
        print_outputs,
        print_sync,
        wait_and_report,
    )
    from reconciler.source import GitSource

    cfg, flags = _settings(kwargs)
    with _session(cfg, flags, "kgitops sync") as session:
        if wait and not dry_run:
            _drive_here(session.backend)
        planned, result, transitions = session.sync_and_write(dry_run, on_wait=_say)
        if planned.desired.error:
            raise GitopsError(f"the source failed: {planned.desired.error}; nothing was changed")
        print_sync(result, transitions, fmt, dry_run)
        for err in session.status.errors:
            click.echo(f"warning: {err}", err=True)
        waited_ok = True
        if wait and not dry_run:
            refs = followed(result)
            hint = approve_hint(isinstance(session.source, GitSource))
            waited_ok = wait_and_report(session.backend, refs, timeout, fmt, hint)
            # the jobs have moved on since the sync: write their final state back too
            session.sync_and_write(on_wait=_say)
            if fmt == "text":
                print_outputs(session.backend, refs)
    sys.exit(exitcodes.sync_code(result, waited_ok))


def _approved_in_git(cfg: Config, source: Any, revision: str) -> set[tuple[str, str]]:
    """Issue 16: who approved in Git at the plan's revision (a Git source only), for the plan comment."""
    from reconciler.forge.setup import approved_in_git
    from reconciler.source import GitSource

    if not isinstance(source, GitSource) or not revision:
        return set()
    return approved_in_git(source.repository.path, revision, cfg, cfg.source.subpath)


def _post_plan_comment(
    cfg: Config, plan: Any, approved: set[tuple[str, str]], pull_request: int | None, forge_url: str
) -> None:
    """Issue 16: post or edit the plan comment. A forge failure is a warning: the diff itself stands."""
    from reconciler.credentials import CredentialError
    from reconciler.forge import MARKER, ForgeError, open_forge, plan_comment
    from reconciler.forge.setup import pull_request_number

    number = pull_request_number(pull_request)
    if number is None:
        raise GitopsError("--comment: which pull request? pass --pull-request N (found in CI from GITHUB_REF "
                          "or CI_MERGE_REQUEST_IID)")  # fmt: skip
    try:
        done = open_forge(cfg.forge, forge_url).upsert_comment(number, MARKER, plan_comment(plan, approved))
    except (ForgeError, CredentialError) as exc:
        click.echo(f"warning: the plan comment was not posted: {exc}", err=True)
        return
    click.echo(f"plan comment {done} on pull request #{number}", err=True)


def _drive_here(backend: Any) -> None:
    """The local engine: drive it in this process (no background driver is started for our writes)."""
    from reconciler.backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        backend.drive()


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command()
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
@_guard
def watch(
    poll_interval: float | None,
    resync_interval: float | None,
    status_interval: float | None,
    debounce: float | None,
    metrics_addr: str | None,
    webhook_listen: str | None,
    log_format: str | None,
    **kwargs: Any,
) -> None:
    """Reconcile continuously: on file changes (directory) or new commits (Git), on a resync timer, and write
    status back. Stops cleanly between two reconciles: exit 0 on SIGTERM, 130 on SIGINT (Ctrl-C)."""
    from reconciler.watch import Watcher, WatchLockError, WatchSettings, configure_logging
    from reconciler.webhooks.receiver import ListenError

    cfg, flags = _settings(kwargs)
    if poll_interval is not None:
        cfg.source.poll_interval = poll_interval
    if status_interval is not None:
        cfg.status.interval = status_interval
    if debounce is not None:
        cfg.source.debounce = debounce
    if resync_interval is not None:
        cfg.sync.resync_interval = resync_interval
    if metrics_addr is not None:
        cfg.sync.metrics_addr = metrics_addr
    if log_format is not None:
        cfg.sync.log_format = log_format
    if webhook_listen is not None:
        cfg.webhook.listen = webhook_listen
    configure_logging(cfg.sync.log_format)
    settings = WatchSettings(
        poll_interval=cfg.source.poll_interval,
        resync_interval=cfg.sync.resync_interval,
        status_interval=cfg.status.interval,
        debounce=cfg.source.debounce,
        metrics_addr=cfg.sync.metrics_addr,
    )
    interrupted: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        interrupted.append(signum)
        watcher.stop()

    with _session(cfg, flags, "kgitops watch") as session, ExitStack() as forge:
        watcher = Watcher(session, settings, cfg.state_dir)
        _writeback(cfg, watcher, settings, forge)  # issue 16: webhooks in, commit statuses out
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        try:
            watcher.run()
        except (WatchLockError, ListenError) as exc:
            raise GitopsError(str(exc)) from None
        except (ValueError, OSError) as exc:  # a bad or busy --metrics-addr
            raise GitopsError(f"--metrics-addr: {exc}") from None
    if signal.SIGINT in interrupted:
        click.echo(interrupted_message("watch", kwargs), err=True)
        sys.exit(exitcodes.INTERRUPTED)


def _writeback(cfg: Config, watcher: Any, settings: Any, stack: ExitStack) -> None:
    """Issue 16: the push webhook receiver (``webhook.*``) and the commit statuses (``forge.*``)."""
    from reconciler.credentials import CredentialError
    from reconciler.forge import ForgeError, StatusReporter, open_forge
    from reconciler.forge.setup import detect_kind
    from reconciler.source import looks_like_url
    from reconciler.webhooks.setup import receiver_settings

    try:
        settings.webhook = receiver_settings(cfg)
    except (CredentialError, ValueError) as exc:
        raise GitopsError(f"webhook: {exc}") from None
    if settings.webhook is not None and not (cfg.source.git or looks_like_url(cfg.source.path)):
        raise GitopsError("--webhook-listen needs a Git source (--git, or a Git URL): pushes name commits")
    if cfg.forge.statuses and detect_kind(cfg.forge):
        try:
            forge = open_forge(cfg.forge)
            reporter = StatusReporter(forge, cfg.forge.target_url, watcher.metrics.forge_post)
        except (ForgeError, CredentialError) as exc:
            raise GitopsError(f"forge: {exc}") from None
        watcher.on_result = reporter.observe
        stack.callback(reporter.close)


@click.command()
@source_options
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def status(fmt: str, **kwargs: Any) -> None:
    """Managed objects with their sync state, live phase, revision and age."""
    from reconciler.status.overview import overview_rows, render_rows

    cfg, flags = _settings(kwargs)
    with _session(cfg, flags, readonly=True) as session:
        planned = session.reconciler.plan()
    rows = overview_rows(planned.plan, datetime.now(UTC))
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
    else:
        from reconciler.cli.sync_output import held_file_lines

        click.echo(render_rows(rows), nl=False)
        for line in held_file_lines(planned.plan.held_files):
            click.echo(f"held file: {line}")
        if planned.plan.prune_refused:
            click.echo(f"prune refused: {planned.plan.prune_refused}")
    if planned.plan.error:
        click.echo(f"error: the source failed: {planned.plan.error}", err=True)
        sys.exit(EXIT_ERROR)
