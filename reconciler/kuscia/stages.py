"""Kuscia's stage commands and the phase rules for stage commands and approvals (kuscia-semantics.md §3, §5,
§7, §9; deviations D6, D7), as pure functions of a job's labels and status.

A stage command is the ``kuscia.secretflow/job-stage`` label (``reconciler.kuscia.labels``). Three parties
judge it, and each has its own rule here:

* **KusciaAPI** (``pkg/kusciaapi/service/job_service.go``) checks the phase before it writes the label:
  ``KUSCIAAPI_PHASES``; ``None`` means "no phase check" (stop and cancel). Every backend's ``stage()`` and the
  KusciaAPI server apply this rule (``kusciaapi_refusal``), so ``stop`` on a Succeeded job is accepted and
  answers 0 as Kuscia does, and the controller then ignores it.
* **The controller** (``handleStageCommand``, H/scheduler.go) decides whether the label does anything in the
  job's phase: ``controller_acts``. The embedded engine uses it.
* **kgitops's job commands** (``kgitops job stop …``, the SDK, ``simulate``) are stricter, a documented
  difference: they refuse a command the controller would ignore, so that a user is told instead of nothing
  happening (``KGITOPS_PHASES``, ``kgitops_refusal``).

All three refuse Restart on a job that failed validation (D6: Kuscia accepts it and does nothing).

Approvals: Kuscia's ApproveJob makes no phase check (§7); kgitops's commands accept a decision while the job
is in ``APPROVAL_PHASES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kuscia.conditions import CONDITION_FALSE, CONDITION_JOB_VALIDATED
from reconciler.kuscia.labels import LABEL_JOB_STAGE, LABEL_JOB_STAGE_TRIGGER, LABEL_JOB_STAGE_VERSION
from reconciler.model.phases import JobPhase, Stage

COMMANDS: tuple[Stage, ...] = (Stage.STOP, Stage.CANCEL, Stage.SUSPEND, Stage.RESTART)
"""The commands a user issues (KusciaAPI's stop, cancel, suspend, restart)."""
LABEL_COMMANDS: tuple[Stage, ...] = (*COMMANDS, Stage.START)
"""The commands a backend writes to the label; Start too, which ends Kuscia's restart handshake."""

LIVE_PHASES: tuple[JobPhase, ...] = (
    JobPhase.INITIALIZED,
    JobPhase.AWAITING_APPROVAL,
    JobPhase.PENDING,
    JobPhase.RUNNING,
    JobPhase.SUSPENDED,
)
"""The phases of a job that has not ended."""

KUSCIAAPI_PHASES: Mapping[Stage, tuple[JobPhase, ...] | None] = {
    Stage.STOP: None,
    Stage.CANCEL: None,
    Stage.SUSPEND: (JobPhase.RUNNING,),
    Stage.RESTART: (JobPhase.FAILED, JobPhase.SUSPENDED),
    Stage.START: None,
}
"""The phases in which KusciaAPI writes the command; None: it makes no phase check (§9)."""

KGITOPS_PHASES: Mapping[Stage, tuple[JobPhase, ...]] = {
    Stage.STOP: LIVE_PHASES,
    Stage.CANCEL: (*LIVE_PHASES, JobPhase.FAILED),
    Stage.SUSPEND: (JobPhase.RUNNING,),
    Stage.RESTART: (JobPhase.FAILED, JobPhase.SUSPENDED),
}
"""The phases in which kgitops's job commands issue the command: those in which the controller acts on it
(§5), plus Initialized, where the label waits until the job leaves that phase. Stop also acts on a Failed job
whose completionTime is not set yet (``kgitops_refusal``)."""

APPROVAL_PHASES: tuple[JobPhase, ...] = (JobPhase.INITIALIZED, JobPhase.AWAITING_APPROVAL)
"""The phases in which kgitops records an approval decision; Kuscia's ApproveJob has no phase check (§7)."""


def parse_command(value: str | Stage) -> Stage | None:
    """The command named ``value`` (``"Stop"``…), or None when it is not one of ``LABEL_COMMANDS``."""
    try:
        stage = Stage(value)
    except ValueError:
        return None
    return stage if stage in LABEL_COMMANDS else None


def validation_failed(status: Mapping[str, Any]) -> str | None:
    """The message of a False ``JobValidated`` condition (§6) when the job failed validation, else None."""
    for cond in status.get("conditions") or ():
        if not isinstance(cond, Mapping) or cond.get("type") != CONDITION_JOB_VALIDATED:
            continue
        if cond.get("status") == CONDITION_FALSE:
            return str(cond.get("message") or cond.get("reason") or "validation failed")
    return None


def _phase(status: Mapping[str, Any]) -> JobPhase | None:
    try:
        return JobPhase.parse(status.get("phase"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Refusal:
    """Why a stage command is refused: the job's ``phase`` as its status spells it (``""`` when unset), the
    phases that would allow it (empty when none would: D6), and the failed validation's message, if any."""

    stage: Stage
    phase: str
    allowed: tuple[JobPhase, ...]
    validation: str | None = None

    @property
    def action(self) -> str:
        return self.stage.value.lower()

    def kusciaapi_text(self, job_id: str) -> str:
        """KusciaAPI's words (§9), e.g. ``job: j current status is Pending can not be suspend.``"""
        if self.validation is not None:
            return (
                f"job: {job_id} failed validation ({self.validation}); a restart cannot fix that: "
                "correct the job and create it again"
            )
        return f"job: {job_id} current status is {self.phase} can not be {self.action}."

    def text(self, job_name: str) -> str:
        """kgitops's words, e.g. ``job j is Succeeded; suspend applies only to a job that is Running``."""
        if self.validation is not None:
            return (
                f"job {job_name} failed validation and can not be restarted; "
                "fix the manifest and create the job again"
            )
        if not self.allowed:
            return f"{self.stage} is not a command a user can issue; use Stop, Cancel, Suspend or Restart"
        shown = str(_phase({"phase": self.phase}) or self.phase)
        return f"job {job_name} is {shown}; {self.action} applies only to a job that is " + " or ".join(
            str(p) for p in self.allowed
        )


def _restart_refusal(stage: Stage, status: Mapping[str, Any]) -> Refusal | None:
    failed = validation_failed(status) if stage is Stage.RESTART else None
    if failed is None:
        return None
    return Refusal(stage, str(status.get("phase") or ""), (), failed)


def kusciaapi_refusal(stage: Stage, status: Mapping[str, Any]) -> Refusal | None:
    """KusciaAPI's phase check before it writes ``stage`` (§9), plus D6; None when the command is accepted."""
    allowed = KUSCIAAPI_PHASES.get(stage)
    phase = _phase(status)
    if allowed is not None and phase not in allowed:
        return Refusal(stage, str(status.get("phase") or ""), allowed)
    return _restart_refusal(stage, status)


def kgitops_refusal(stage: Stage, status: Mapping[str, Any]) -> Refusal | None:
    """kgitops's stricter check for its job commands (``KGITOPS_PHASES``, D6); None when it is issued.

    A command outside ``COMMANDS`` is refused with no allowed phase."""
    failed = _restart_refusal(stage, status)
    if failed is not None:
        return failed
    allowed = KGITOPS_PHASES.get(stage, ())
    phase = _phase(status)
    if stage is Stage.STOP and phase is JobPhase.FAILED and not status.get("completionTime"):
        return None  # the controller still stops it (§5)
    if phase in allowed:
        return None
    return Refusal(stage, str(status.get("phase") or ""), allowed)


def controller_acts(stage: Stage, status: Mapping[str, Any]) -> bool:
    """Whether Kuscia's controller acts on the ``stage`` label of a job with this status (§5), once it is in
    a phase that processes commands (AwaitingApproval, Pending, Running, Suspended, Failed)."""
    phase = _phase(status)
    done = bool(status.get("completionTime"))
    if stage is Stage.STOP:
        return not (phase is JobPhase.CANCELLED or (phase is JobPhase.FAILED and done))
    if stage is Stage.CANCEL:
        return not (phase is JobPhase.CANCELLED and done)
    if stage is Stage.SUSPEND:
        return phase is JobPhase.RUNNING
    if stage is Stage.RESTART:
        return validation_failed(status) is None and phase in (JobPhase.FAILED, JobPhase.SUSPENDED)
    return False


def _next_version(labels: Mapping[str, str]) -> str:
    version = str(labels.get(LABEL_JOB_STAGE_VERSION) or "0")
    return str(int(version) + 1 if version.isdigit() else 1)


def with_stage(labels: Mapping[str, str], stage: Stage, trigger: str) -> dict[str, str]:
    """The labels after writing ``stage`` issued by domain ``trigger``: the version goes up by one (starts at
    ``"1"``; ``setJobStage``)."""
    new = dict(labels)
    new[LABEL_JOB_STAGE] = stage.value
    new[LABEL_JOB_STAGE_TRIGGER] = trigger
    new[LABEL_JOB_STAGE_VERSION] = _next_version(labels)
    return new


def kusciaapi_stage_labels(labels: Mapping[str, str], stage: Stage, trigger: str) -> dict[str, str] | None:
    """The labels after KusciaAPI issues ``stage``, or None when it leaves them alone: Stop and Restart are
    not rewritten when already set; Suspend and Cancel always are (§9)."""
    if stage in (Stage.STOP, Stage.RESTART) and labels.get(LABEL_JOB_STAGE) == stage.value:
        return None
    return with_stage(labels, stage, trigger)
