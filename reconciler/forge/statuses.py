"""From a sync's result to one commit status per job, posted without ever holding up or failing a sync.

``job_statuses`` is pure: for revision R (the plan's revision) each managed KusciaJob gets the context
``kgitops/<job>`` with a state and a one-line description:

- Synced and ``Succeeded`` → success; ``Failed`` → failure with Kuscia's reason;
- Synced and still on its way (``Pending``, ``Running``, ``AwaitingApproval``; Kuscia's job phases) →
  pending, naming the parties whose approval is missing or the tasks done so far;
- Held (the file fails to load or validate) or Failed (the backend refused it) → failure with the reason;
- OutOfSync (changed in Git, not re-run) → pending with the reason.

``StatusReporter`` posts them from its own thread: only a status that changed is posted again, a failure is
logged and counted, and the reconciling thread only enqueues.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.apply.status_records import records_of
from reconciler.apply.sync import SyncResult
from reconciler.forge.base import CommitState, Forge, ForgeError
from reconciler.model.objects import KUSCIA_JOB
from reconciler.model.phases import ApprovePhase, JobPhase, TaskPhase
from reconciler.status.record import StatusRecord, SyncState

log = logging.getLogger("kgitops.forge")
CONTEXT_PREFIX = "kgitops/"


@dataclass(frozen=True)
class JobStatus:
    sha: str
    context: str
    state: CommitState
    description: str


def waiting_parties(live: dict[str, Any]) -> list[str]:
    """Parties (not the initiator) whose approval the live summary does not show as given."""
    rows = live.get("approvals") or []
    accepted = ApprovePhase.ACCEPTED
    return [str(r.get("domain")) for r in rows if isinstance(r, dict) and r.get("approveStatus") != accepted]


def describe(record: StatusRecord) -> tuple[CommitState, str]:
    """The state and one-line description of one job's status record."""
    if record.sync_state == SyncState.HELD:
        return CommitState.FAILURE, f"held: {record.message or record.reason}"
    if record.sync_state == SyncState.FAILED:
        return CommitState.FAILURE, f"not applied: {record.message or record.reason}"
    if record.sync_state == SyncState.OUT_OF_SYNC:
        return CommitState.PENDING, f"OutOfSync: {record.reason or record.message}"
    phase = record.phase or "Created"
    reason = str(record.live.get("reason") or record.live.get("message") or "")
    if phase == JobPhase.SUCCEEDED:
        return CommitState.SUCCESS, phase
    if phase == JobPhase.FAILED:
        return CommitState.FAILURE, f"{phase}: {reason}" if reason else phase
    waiting = waiting_parties(record.live)
    if waiting:
        return CommitState.PENDING, f"{phase}: awaiting approval from {', '.join(waiting)}"
    tasks = record.live.get("tasks") or {}
    if isinstance(tasks, dict) and tasks:
        done = sum(1 for v in tasks.values() if v == TaskPhase.SUCCEEDED)
        return CommitState.PENDING, f"{phase}: {done}/{len(tasks)} tasks succeeded"
    return CommitState.PENDING, phase


def job_statuses(result: SyncResult) -> list[JobStatus]:
    """One status per managed KusciaJob, on the revision the sync read (none for a failed source or a
    dry run)."""
    sha = result.plan.revision
    if not sha or result.plan.error or result.dry_run:
        return []
    out = []
    for record in records_of(result):
        if record.ref.kind != KUSCIA_JOB:
            continue
        state, description = describe(record)
        out.append(JobStatus(sha, CONTEXT_PREFIX + record.ref.name, state, " ".join(description.split())))
    return out


class StatusReporter:
    """Posts job statuses to ``forge`` from a background thread. ``observe(result)`` is the watcher's
    ``on_result``; ``on_post(result)`` counts each post as ``posted`` or ``failed``."""

    def __init__(
        self, forge: Forge, target_url: str = "", on_post: Callable[[str], None] = lambda result: None
    ) -> None:
        self.forge = forge
        self.target_url = target_url
        self.on_post = on_post
        self._posted: dict[tuple[str, str], tuple[CommitState, str]] = {}
        self._queue: queue.Queue[JobStatus | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kgitops-forge", daemon=True)
        self._thread.start()

    def observe(self, result: SyncResult) -> None:
        for status in job_statuses(result):
            self._queue.put(status)

    def _run(self) -> None:
        while True:
            status = self._queue.get()
            if status is None:
                return
            key, value = (status.sha, status.context), (status.state, status.description)
            if self._posted.get(key) == value:
                continue
            try:
                self.forge.set_status(
                    status.sha, status.context, status.state, status.description, self.target_url
                )
            except ForgeError as exc:
                self.on_post("failed")
                log.warning(f"commit status {status.context} on {status.sha[:12]} not posted: {exc}")
                continue
            self._posted[key] = value
            self.on_post("posted")

    def close(self, timeout: float = 10.0) -> None:
        """Post what is queued (waiting at most ``timeout`` seconds), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)
