"""``kgitops watch``: the long-running reconciler.

One thread does all reconciling; everything else only wakes it: a burst of file events (directory source), a
Git poll that finds a new revision, the periodic resync, the status refresh, a signal. Each wake-up is one
step (source → plan → apply → status), and a stop request is honoured between steps, never in the middle
of one.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.apply.lock import Jointly, Leadership, StateLock, WatchLockError
from reconciler.apply.session import Session
from reconciler.apply.status_records import records_of
from reconciler.apply.sync import Outcome, SyncResult
from reconciler.model import ObjectRef
from reconciler.output.log_format import PrintableFormatter
from reconciler.plan.desired import paused_gc
from reconciler.plan.model import DesiredState
from reconciler.source import Snapshot, SourceError
from reconciler.status.metrics import Metrics, MetricsServer
from reconciler.status.record import StatusRecord
from reconciler.webhooks import Receiver, ReceiverSettings, Trigger

log = logging.getLogger("kgitops.watch")
# each reconcile's stages (``Metrics.observe_reconcile``), at DEBUG level
stage_log = logging.getLogger("kgitops.watch.stages")

__all__ = [
    "Jointly",
    "Leadership",
    "StateLock",
    "WatchLockError",
    "WatchSettings",
    "Watcher",
    "configure_logging",
]


@dataclass
class WatchSettings:
    poll_interval: float = 30.0
    resync_interval: float = 300.0
    status_interval: float = 5.0
    debounce: float = 0.15
    metrics_addr: str = ""
    webhook: ReceiverSettings | None = None  # push webhooks (reconciler.webhooks); None: polling only


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}) or {})
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(fmt: str = "text", stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("kgitops")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def _info(msg: str, **fields: Any) -> None:
    log.info(msg, extra={"fields": fields})


def _settle() -> None:
    """After a reconcile that read everything (start, election, resync): collect all garbage once, then move
    what survives (the parse and live caches, the plan, the status memos: every object of every job) out of
    the cyclic collector's sight (``gc.freeze``). Each reconcile runs with the collector paused and freezes
    what it leaves (``_step``): without that, the full collections a reconcile of 10,000 jobs sets off rescan
    every object, pauses of 100-500 ms in the middle of whichever reconcile they fall into. Objects freed by
    reference counting go at once, frozen or not; only garbage in reference cycles waits for the next
    settle (``sync.resync_interval``)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Watcher:
    def __init__(
        self,
        session: Session,
        settings: WatchSettings,
        state_dir: str | Path,
        on_result: Callable[[SyncResult], None] | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        # who may reconcile: the state directory's lock (a local watch), or that and a Lease (replicas)
        self.leadership: Leadership = leadership or StateLock(state_dir)
        self.metrics = Metrics()
        self.on_result = on_result
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._source_changed = threading.Event()
        self._last_revision = ""
        self.reconciles = 0
        self.metrics_server: MetricsServer | None = None
        # The embedded engine runs in whichever process drives it: the watcher, between its own steps.
        backend = session.backend
        self._drive: Callable[[], bool] | None = (
            backend.step if backend.capabilities.engine_in_process else None
        )
        # issue 16: a verified push wakes the loop; `take()` hands over only the newest revision of a burst
        self.trigger = Trigger(self._wake.set)
        self.receiver: Receiver | None = None

    def stop(self) -> None:
        """Ask the loop to stop after the current step (safe from a signal handler)."""
        self.stop_event.set()
        self._wake.set()

    def _poke(self) -> None:
        self._source_changed.set()
        self._wake.set()

    def run(self, ready: Callable[[], None] | None = None) -> int:
        self.leadership.begin(self._wake.set)
        stop_watching: Callable[[], None] | None = None
        try:
            self._leading()  # the gauge and /healthz say leader or follower from the first scrape
            if self.settings.metrics_addr:
                self.metrics_server = MetricsServer(self.metrics, self.settings.metrics_addr)
                self.metrics_server.start()
                _info(f"metrics on http://{self.metrics_server.address}/metrics")
            if self.settings.webhook is not None:  # issue 16: the push webhook receiver
                self.receiver = Receiver(self.settings.webhook, self.trigger, self.metrics.delivery)
                self.receiver.start()
                _info(f"webhooks on http://{self.receiver.address}/")
            source = self.session.source
            stop_watching = source.watch(self._poke, quiet=self.settings.debounce)
            self._polled = stop_watching is None  # the source cannot tell us: poll it
            _info(f"watching {source.describe()}", source=source.source_id)
            if self._drive is not None:
                self._drive()  # take the engine over before the first write (no background driver needed)
            leading = self._leading()
            if leading:
                self._step(reread=True, why="start")
                _settle()
            if ready is not None:
                ready()
            self._loop(leading)
            _info("stopped")
            return 0
        finally:
            if stop_watching is not None:
                stop_watching()
            if self.metrics_server is not None:
                self.metrics_server.stop()
            if self.receiver is not None:
                self.receiver.stop()
            self.leadership.end()

    def _leading(self) -> bool:
        leading = self.leadership.leading()
        self.metrics.leader = leading
        return leading

    def _loop(self, was_leading: bool) -> None:
        s = self.settings
        now = time.monotonic()
        next_poll, next_resync, next_status = (
            now + s.poll_interval,
            now + s.resync_interval,
            now + s.status_interval,
        )
        polled = self._polled
        while not self.stop_event.is_set():
            now = time.monotonic()
            deadline = min(next_resync, next_status, next_poll if polled else next_resync)
            if self._drive is not None:
                try:
                    busy = self._drive()
                except Exception as exc:  # the engine's own errors are its to report; keep watching
                    self.metrics.error("engine")
                    log.error(f"engine pass failed: {exc}")
                    busy = False
                deadline = min(deadline, now if busy else now + 0.05)
            if deadline > now:
                self._wake.wait(deadline - now)
            self._wake.clear()
            if self.stop_event.is_set():
                return
            now = time.monotonic()
            leading = self._leading()
            if not leading:  # a follower (or a leader that could not renew): nothing to do until it leads
                self.trigger.take()
                self._source_changed.clear()
                next_poll, next_resync, next_status = (
                    now + s.poll_interval,
                    now + s.resync_interval,
                    now + s.status_interval,
                )
                was_leading = False
                continue
            if not was_leading:  # just elected: read everything afresh (the last leader may have moved on)
                was_leading = True
                self._cached = None
                self._step(reread=True, why="elected")
                _settle()
                next_poll, next_resync, next_status = (
                    now + s.poll_interval,
                    now + s.resync_interval,
                    now + s.status_interval,
                )
                continue
            pushed = self.trigger.take()
            if pushed is not None and polled:  # issue 16: a push webhook: fetch and reconcile now
                next_poll = now + s.poll_interval
                self._poll()
            if self._source_changed.is_set():
                self._source_changed.clear()
                self._step(reread=True, why="source changed")
                next_status = now + s.status_interval
            if polled and now >= next_poll:
                next_poll = now + s.poll_interval
                self._poll()
            if now >= next_resync:
                next_resync = now + s.resync_interval
                next_status = now + s.status_interval
                self._step(reread=True, why="resync")
                _settle()
            elif now >= next_status:
                if now - self._stepped_at < s.status_interval:
                    # a reconcile (a new commit, a push, a file save) refreshed status meanwhile: under a
                    # stream of commits, a refresh would only hold the next one up
                    next_status = self._stepped_at + s.status_interval
                else:
                    next_status = now + s.status_interval
                    self._step(reread=False, why="status")

    def _poll(self) -> None:
        source = self.session.source
        try:
            revision = source.latest()
        except SourceError as exc:
            self.metrics.error("source")
            log.warning(f"poll failed: {exc}")
            return
        if revision != self._last_revision:
            self._step(reread=True, why=f"new revision {revision[:12]}", revision=revision)

    def _step(self, reread: bool, why: str, revision: str | None = None) -> None:
        with paused_gc():
            self._reconcile(reread, why, revision)
        gc.freeze()  # what this reconcile keeps is long-lived (see ``_settle``)
        self._stepped_at = time.monotonic()

    def _reconcile(self, reread: bool, why: str, revision: str | None = None) -> None:
        t0 = time.perf_counter()
        rec = self.session.reconciler
        try:
            # one writer per state directory: a manual `kgitops sync` waits for this step, and this step
            # for it (the live state and the inventory are read only once the lock is ours)
            with self.session.writer.hold(lambda message: log.warning(message)):
                stages = {"lock": time.perf_counter() - t0}
                if not self._leading():  # lost the lead while waiting for the writer lock
                    return
                if reread or self._cached is None:
                    planned = rec.plan(revision)
                    self._cached = (planned.desired, planned.snapshot)
                else:
                    planned = rec.plan_with(*self._cached)
                stages.update(planned.timings)  # source (when read again), live, diff
                t = time.perf_counter()
                _, result = rec.sync(planned=planned)
                stages["apply"] = time.perf_counter() - t
                t = time.perf_counter()
                records = records_of(result)  # once, for the status write-back and the metrics
                transitions = self.session.status.write(result, records)
                stages["status"] = time.perf_counter() - t
        except Exception as exc:  # one failed step must not end the watcher; it is logged and retried
            self.metrics.error(type(exc).__name__)
            self.metrics.healthy = False
            log.error(f"reconcile failed ({why}): {exc}")
            return
        t = time.perf_counter()
        self.metrics.healthy = True
        self.reconciles += 1
        if planned.desired.error:
            self.metrics.error("source")
            log.error(f"source failed: {planned.desired.error}; nothing is pruned")
        else:
            self._last_revision = planned.desired.revision
        self._report(result, records, why)
        for err in self.session.status.errors:
            self.metrics.error("status")
            log.error(err)
        for line in transitions:
            _info(f"status: {line}")
        total = time.perf_counter() - t0  # source to status, as before commit statuses are posted
        if self.on_result is not None:
            self.on_result(result)
        stages["report"] = time.perf_counter() - t
        self.metrics.observe_reconcile(total, stages)
        stage_log.debug(
            f"{why}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stages.items()),
            extra={"fields": {"trigger": why, "stages": stages, "seconds": total}},
        )

    _cached: tuple[DesiredState, Snapshot | None] | None = None
    _stepped_at = float("-inf")  # time.monotonic() at the end of the last reconcile
    _polled = False
    _drift_logged: set[ObjectRef] = set()  # noqa: RUF012 - replaced per instance on the first report

    def _report(self, result: SyncResult, records: list[StatusRecord], why: str) -> None:
        drifted: set[ObjectRef] = set()
        for a in result.applied:
            if a.outcome in (
                Outcome.CREATED,
                Outcome.UPDATED,
                Outcome.RECREATED,
                Outcome.PRUNED,
                Outcome.ADOPTED,
            ) or (a.outcome == Outcome.STOPPING and a.live is not a.entry.live):  # the stop, once
                _info(f"{a.outcome.value} {a.ref}", object=str(a.ref), outcome=a.outcome.value, trigger=why)
            elif a.outcome == Outcome.FAILED:
                self.metrics.error("apply")
                log.error(f"{a.ref}: {a.message}")
            elif a.outcome == Outcome.OUT_OF_SYNC and a.entry.drift:
                if a.ref not in self._drift_logged:
                    log.warning(f"drift: {a.ref}: {a.entry.reason}; {a.message}")
                drifted.add(a.ref)
        self._drift_logged = drifted
        self._report_held(result)
        self.metrics.set_objects(
            dict(Counter(r.sync_state for r in records)), dict(Counter(r.phase or "None" for r in records))
        )
        self.metrics.set_held(len(result.plan.held_files), bool(result.plan.prune_refused))

    _held_logged: dict[str, str] = {}  # noqa: RUF012 - replaced per instance on the first report

    def _report_held(self, result: SyncResult) -> None:
        """Held files and objects, with file:line:col and rule, and a refused prune: logged when they
        change (not at every status refresh)."""
        held = {f"file {path}": why for path, why in result.plan.held_files.items()}
        held.update({str(a.ref): a.message for a in result.applied if a.outcome == Outcome.HELD})
        held.update({f"conflict {a.ref}": a.message for a in result.applied if a.outcome == Outcome.CONFLICT})
        if result.plan.prune_refused:
            held["prune"] = result.plan.prune_refused
        for key, why in sorted(held.items()):
            if self._held_logged.get(key) != why:
                what = "prune refused" if key == "prune" else f"held {key}"
                what = key if key.startswith("conflict ") else what
                log.warning(f"{what}: {why}", extra={"fields": {"held": key, "reason": why}})
        for key in sorted(set(self._held_logged) - set(held)):
            _info(f"no longer held: {key}" if key != "prune" else "prune no longer refused")
        self._held_logged = held
