"""Which stage commands a job's phase allows, as KusciaAPI decides it (kuscia-semantics.md §5, §9, D6).

Shared by the Kubernetes backend and the KusciaAPI server so both refuse the same commands with the same
words. Pure: it looks only at the job's stage and status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.backends.base import BackendError, PhaseError
from reconciler.model import Stage

STAGE_LABEL = "kuscia.secretflow/job-stage"
STAGE_TRIGGER_LABEL = "kuscia.secretflow/job-stage-trigger"
STAGE_VERSION_LABEL = "kuscia.secretflow/job-stage-version"

COMMANDS = (Stage.STOP, Stage.CANCEL, Stage.SUSPEND, Stage.RESTART, Stage.START)


def parse_stage(value: str | Stage) -> Stage:
    try:
        stage = Stage(value)
    except ValueError:
        stage = None  # type: ignore[assignment]
    if stage not in COMMANDS:
        choices = ", ".join(s.value for s in COMMANDS)
        raise BackendError(f"`{value}` is not a stage command a user can issue; use one of: {choices}")
    return stage


def validation_failed(status: Mapping[str, Any]) -> str | None:
    """The message of a False ``JobValidated`` condition, if the job failed validation."""
    for cond in status.get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == "JobValidated" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "validation failed")
    return None


def check_stage(job_id: str, stage: Stage, status: Mapping[str, Any]) -> None:
    """Raise PhaseError if ``stage`` may not be issued now. Texts are KusciaAPI's (§9)."""
    phase = str(status.get("phase") or "")
    if stage is Stage.SUSPEND and phase != "Running":
        raise PhaseError(f"job: {job_id} current status is {phase} can not be suspend.", phase, ("Running",))
    if stage is Stage.RESTART:
        if phase not in ("Failed", "Suspended"):
            raise PhaseError(
                f"job: {job_id} current status is {phase} can not be restart.", phase, ("Failed", "Suspended")
            )
        failed = validation_failed(status)
        if failed is not None:  # D6: Kuscia would accept and silently do nothing
            raise PhaseError(
                f"job: {job_id} failed validation ({failed}); a restart cannot fix that: correct the job "
                "and create it again",
                phase,
                (),
            )


def stage_labels(labels: Mapping[str, str], stage: Stage, trigger: str) -> dict[str, str] | None:
    """The labels after issuing ``stage``, or None when Kuscia would leave them alone.

    Stop and Restart are not rewritten when already set; every write increments the version (starts at 1).
    """
    if stage in (Stage.STOP, Stage.RESTART) and labels.get(STAGE_LABEL) == stage.value:
        return None
    new = dict(labels)
    try:
        version = int(labels.get(STAGE_VERSION_LABEL) or 0)
    except ValueError:
        version = 0
    new[STAGE_LABEL] = stage.value
    new[STAGE_TRIGGER_LABEL] = trigger
    new[STAGE_VERSION_LABEL] = str(version + 1)
    return new
