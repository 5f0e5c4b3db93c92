"""GitOps runs: ``diff`` (the plan), ``sync`` (apply it, optionally wait for the jobs), ``status`` (one row
per managed object) and ``watch`` (reconcile continuously).

Each call opens the source and the backend a ``Config`` names (see ``reconciler.sdk.configure``), does its
work and closes them. Errors are ``reconciler.errors.KgitopsError`` with exit code 2 (a source, backend,
status or lock problem: nothing was changed, or the run could not start)::

    from reconciler import sdk

    cfg = sdk.configure("kgitops.yaml", sdk.Overrides(source="manifests/"))
    report = sdk.sync(cfg, wait=True, timeout=600)
    print(report.clean, report.waited_ok, [a.outcome for a in report.result.applied])
"""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from reconciler.config import Config
from reconciler.errors import KgitopsError
from reconciler.sdk.leftovers import entries, remove_new_entries
from reconciler.sdk.sync_report import FOLLOWED_KINDS, approve_hint, followed, party_domains, sync_problems

if TYPE_CHECKING:
    from reconciler.apply.session import Session
    from reconciler.apply.sync import SyncResult
    from reconciler.apply.wait import JobProgress
    from reconciler.plan.model import Plan
    from reconciler.status.overview import Row

__all__ = [
    "FOLLOWED_KINDS",
    "RunOptions",
    "StatusReport",
    "SyncReport",
    "WaitReport",
    "diff",
    "status",
    "sync",
    "watch",
]



class GitopsError(KgitopsError):
    """A source, backend, status or lock problem of a GitOps run (exit code 2)."""

    exit_code = 2


class SourceFailedError(GitopsError):
    """The source could not be read; nothing was changed (exit code 2)."""


@dataclass(frozen=True)
class RunOptions:
    """What one run does beyond the config: ``recreate`` re-runs these changed jobs (names);
    ``max_file_size`` (bytes) holds larger manifest files instead of parsing them (default 5 MiB);
    ``confirm_prune`` names (or ``Kind/name``) objects whose file is still in the source but no longer
    yields them: only these are pruned, the others are held (``reconciler.plan.diff.PlanOptions``)."""

    recreate: tuple[str, ...] = ()
    max_file_size: int | None = None
    confirm_prune: tuple[str, ...] = ()


@contextmanager
def _errors() -> Iterator[None]:
    """The errors of the GitOps layers below, as one ``GitopsError`` each (exit 2)."""
    from reconciler.backends.base import BackendError
    from reconciler.source import SourceError
    from reconciler.status import StatusCommitError

    try:
        yield
    except KgitopsError:
        raise
    except (SourceError, BackendError, StatusCommitError) as exc:
        raise GitopsError(str(exc)) from None


@contextmanager
def run_session(
    cfg: Config, options: RunOptions, command: str = "kgitops", readonly: bool = False
) -> Iterator[Session]:
    """The source and the backend of one run (``diff``, ``sync``, ``watch``, the plan comment). ``readonly``:
    create no state (the engine is opened read-only; without engine state, a Git URL is cloned into a
    temporary directory)."""
    from reconciler.apply.session import open_session
    from reconciler.backends.base import BackendError
    from reconciler.backends.factory import open_backend
    from reconciler.validate import Options

    try:
        backend = open_backend(cfg, readonly=readonly)
    except BackendError as exc:
        raise GitopsError(f"cannot open the {cfg.backend.kind} backend: {exc}", exc.hint) from None
    with ExitStack() as stack, _errors():
        stack.callback(backend.close)
        if readonly and not cfg.state_dir.is_dir():
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="kgitops-"))
            cfg = replace(cfg, engine=replace(cfg.engine, state_dir=scratch))
        validate = Options(max_file_size=options.max_file_size) if options.max_file_size is not None else None
        yield open_session(cfg, backend, options.recreate, command, validate, options.confirm_prune)


def diff(cfg: Config, options: RunOptions | None = None, differences_only: bool = False) -> Plan:
    """What ``sync`` would do, read-only: a ``reconciler.plan.model.Plan`` (entries with their action,
    held files, a refused prune). A failed source is ``plan.error``, not an exception. ``differences_only``:
    leave the unchanged entries out (counted in ``Plan.unchanged_elided``), which lets a plan after a small
    change be patched onto the previous one (``Reconciler.plan_differences``)."""
    with run_session(cfg, options or RunOptions(), readonly=True) as session:
        if differences_only:
            return session.reconciler.plan_differences()
        return session.reconciler.plan().plan


def _writeback(cfg: Config, watcher: Any, settings: Any, stack: ExitStack) -> None:
    """The push webhook receiver (``webhook.*``) and the commit statuses (``forge.*``) of ``watch``."""
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


@dataclass(frozen=True)
class StatusReport:
    """``rows``: one per managed object (kind, namespace, name, sync state, live phase, revision, creation
    time, age in seconds, reason); ``plan``: the plan they come from (held files, refused prune, error)."""

    rows: list[Row]
    plan: Plan


def status(cfg: Config, options: RunOptions | None = None, now: datetime | None = None) -> StatusReport:
    """The sync state of every managed object, read-only; ``now`` (default: the current UTC time) is what
    ages are measured against."""
    from reconciler.status.overview import overview_rows

    plan = diff(cfg, options)
    return StatusReport(overview_rows(plan, now or datetime.now(UTC)), plan)


@dataclass(frozen=True)
class WaitReport:
    """How the followed jobs ended: ``final`` is the last progress of each; ``finished`` is False when the
    timeout passed first; ``ok`` when every one finished well (not Failed, Cancelled or ApprovalReject)."""

    final: list[JobProgress]
    finished: bool
    timeout: float | None

    @property
    def bad(self) -> list[JobProgress]:
        return [p for p in self.final if p.bad]

    @property
    def unfinished(self) -> list[JobProgress]:
        return [p for p in self.final if not p.final]

    @property
    def ok(self) -> bool:
        return self.finished and not self.bad


@dataclass(frozen=True)
class SyncReport:
    """The result of ``sync``.

    ``result``: each object's outcome, the plan and the approvals; ``transitions``: status-file changes;
    ``status_errors``: status commits that failed (the sync itself stood); ``problems``: why the backend
    does not match the source (empty: clean); ``waited``: with ``wait``, how the followed jobs ended;
    ``data_dirs``: on the embedded engine, each party domain's data and outputs directory.
    """

    result: SyncResult
    transitions: list[str]
    status_errors: list[str]
    problems: list[str]
    waited: WaitReport | None = None
    data_dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Everything applied or unchanged (before any wait)."""
        return not self.problems

    @property
    def waited_ok(self) -> bool:
        return self.waited is None or self.waited.ok


def sync(
    cfg: Config,
    options: RunOptions | None = None,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float | None = None,
    on_synced: Callable[[SyncReport], None] | None = None,
    on_progress: Callable[[JobProgress], None] | None = None,
    on_lock_wait: Callable[[str], None] | None = None,
    differences_only: bool = False,
) -> SyncReport:
    """Apply the plan: create new objects, update AppImages, prune (when enabled), apply approvals, write
    status. One writer at a time per state directory: a second sync (or a watch) waits for the first
    (``on_lock_wait`` is told why, once).

    ``wait`` (not with ``dry_run``): then follow the jobs this sync set moving (created, re-created,
    changed, or approved by the approvals step; ``reconciler.sdk.sync_report.followed``) to a final phase,
    for at most ``timeout`` seconds (None: no limit), telling ``on_progress`` each change, and sync once more
    so the status written back holds the jobs' final phases. ``on_synced`` gets the first sync's report before
    the wait starts. Raises ``GitopsError`` (exit 2) when the source failed; nothing is changed then.

    ``differences_only`` (not with ``wait``): ``report.result.applied`` may leave the unchanged objects out
    (counted in ``result.unchanged_elided``), which lets a sync after a small change be patched onto the
    previous plan (``Reconciler.sync_differences``); with status write-back configured, every object is
    applied as without it.

    When the source failed, what this call made in the state directory is removed again (the directory
    itself if it did not exist before): a command that changed nothing leaves nothing behind (no engine
    store, no caches).
    """
    before = entries(cfg.state_dir)
    try:
        return _sync(
            cfg, options, dry_run, wait, timeout, on_synced, on_progress, on_lock_wait, differences_only
        )
    except SourceFailedError:
        remove_new_entries(cfg.state_dir, before)
        raise


def _sync(
    cfg: Config,
    options: RunOptions | None,
    dry_run: bool,
    wait: bool,
    timeout: float | None,
    on_synced: Callable[[SyncReport], None] | None,
    on_progress: Callable[[JobProgress], None] | None,
    on_lock_wait: Callable[[str], None] | None,
    differences_only: bool,
) -> SyncReport:
    """``sync``, with the state directory as it finds it."""
    from reconciler.backends.local import LocalBackend
    from reconciler.engine.podplan import party_data_dir
    with run_session(cfg, options or RunOptions(), "kgitops sync") as session:
        following = wait and not dry_run
        if following and isinstance(session.backend, LocalBackend):
            session.backend.drive()  # the embedded engine runs in this process while we wait
        planned, result, transitions = session.sync_and_write(
            dry_run, on_wait=on_lock_wait, differences_only=differences_only and not following
        )
        if planned.desired.error:
            raise SourceFailedError(f"the source failed: {planned.desired.error}; nothing was changed")
        report = SyncReport(result, transitions, list(session.status.errors), sync_problems(result))
        if not following:
            return report
        if on_synced is not None:
            on_synced(report)
        refs = followed(result)
        waited = WaitReport([], True, timeout)
        if refs:
            from reconciler.apply.wait import wait_for_jobs

            hint = approve_hint(session.source.history is not None)
            final, finished = wait_for_jobs(
                session.backend, refs, timeout, on_progress or (lambda _p: None), hint=hint
            )
            waited = WaitReport(final, finished, timeout)
        # the jobs have moved on since the sync: write their final state back too
        session.sync_and_write(on_wait=on_lock_wait)
        dirs: dict[str, Path] = {}
        if isinstance(session.backend, LocalBackend):
            for domain in party_domains(session, refs):
                dirs[domain] = party_data_dir(Path(session.backend.state_dir), domain)
        return replace(report, waited=waited, data_dirs=dirs)


def watch(
    cfg: Config,
    options: RunOptions | None = None,
    ready: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Reconcile continuously (on file changes or new commits, on a resync timer) and write status back.

    Without ``stop`` (the main thread of a program): until SIGTERM or SIGINT, whose handlers are restored
    afterwards; returns the signal that stopped it (``signal.SIGTERM`` or ``signal.SIGINT``). With ``stop``
    (any thread, no signal handling): until the event is set; returns 0. ``ready`` is called once the
    first reconcile is done. Raises ``GitopsError`` (exit 2) when it cannot start: another watcher holds
    the state directory, a bad or busy ``sync.metrics_addr``, a source or backend error. Settings come from
    ``cfg`` (``source.poll_interval``, ``sync.resync_interval``, ``status.interval``, ``source.debounce``,
    ``sync.metrics_addr``, ``sync.log_format``; ``leader_election.*``: replicas elect one leader on a Lease,
    the others follow, see ``reconciler.sdk.election``)."""
    from reconciler.sdk.election import leadership_for
    from reconciler.watch import Watcher, WatchLockError, WatchSettings, configure_logging
    from reconciler.webhooks.receiver import ListenError

    configure_logging(cfg.sync.log_format)
    settings = WatchSettings(
        poll_interval=cfg.source.poll_interval,
        resync_interval=cfg.sync.resync_interval,
        status_interval=cfg.status.interval,
        debounce=cfg.source.debounce,
        metrics_addr=cfg.sync.metrics_addr,
    )
    stopped_by: list[int] = []
    with run_session(cfg, options or RunOptions(), "kgitops watch") as session, ExitStack() as forge:
        watcher = Watcher(session, settings, cfg.state_dir, leadership=leadership_for(cfg, session))
        _writeback(cfg, watcher, settings, forge)  # push webhooks in, commit statuses out

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stopped_by.append(signum)
            watcher.stop()

        previous = {}
        if stop is None:
            previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        else:
            event = stop

            def stop_when_set() -> None:
                event.wait()
                watcher.stop()

            threading.Thread(target=stop_when_set, daemon=True).start()
        try:
            watcher.run(ready)
        except (WatchLockError, ListenError) as exc:
            raise GitopsError(str(exc)) from None
        except (ValueError, OSError) as exc:  # a bad or busy metrics address
            raise GitopsError(f"cannot serve metrics on {cfg.sync.metrics_addr}: {exc}") from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if stop is not None:
        return 0
    return stopped_by[0] if stopped_by else signal.SIGTERM
