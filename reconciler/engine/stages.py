"""Stage commands (Stop, Cancel, Suspend, Restart): when they are allowed and what they do (§5, D6, D7).

A command is the ``kuscia.secretflow/job-stage`` label; the phase handlers call ``handle_stage_command``
first, as Kuscia's do. ``check_stage`` is the up-front refusal the CLI and the API show (PhaseError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.engine.taskbuild import LABEL_STAGE, LABEL_STAGE_TRIGGER, LABEL_STAGE_VERSION
from reconciler.model import JobPhase, Resource, Stage

if TYPE_CHECKING:
    from reconciler.engine.job_controller import JobRound

# Phases in which each command does something (phases given as our JobPhase values).
ALLOWED: dict[Stage, tuple[JobPhase, ...]] = {
    Stage.STOP: (
        JobPhase.INITIALIZED,
        JobPhase.AWAITING_APPROVAL,
        JobPhase.PENDING,
        JobPhase.RUNNING,
        JobPhase.SUSPENDED,
    ),
    Stage.CANCEL: (
        JobPhase.INITIALIZED,
        JobPhase.AWAITING_APPROVAL,
        JobPhase.PENDING,
        JobPhase.RUNNING,
        JobPhase.SUSPENDED,
        JobPhase.FAILED,
    ),
    Stage.SUSPEND: (JobPhase.RUNNING,),
    Stage.RESTART: (JobPhase.FAILED, JobPhase.SUSPENDED),
}


def validation_failed(job: Resource) -> bool:
    return any(
        c.get("type") == "JobValidated" and c.get("status") == "False"
        for c in job.status.get("conditions") or ()
    )


def check_stage(job: Resource, stage: Stage) -> str:
    """ "" if ``stage`` applies to the job now, else a message naming the phase and what is allowed."""
    phase = JobPhase.parse(job.status.get("phase"))
    allowed = ALLOWED.get(stage)
    if allowed is None:
        return f"{stage} is not a command a user can issue; use Stop, Cancel, Suspend or Restart"
    if stage is Stage.RESTART and validation_failed(job):
        return (
            f"job {job.name} failed validation and can not be restarted; "
            "fix the manifest and create the job again"
        )
    if stage is Stage.STOP and phase is JobPhase.FAILED and not job.status.get("completionTime"):
        return ""
    if phase not in allowed:
        return (
            f"job {job.name} is {phase}; {stage.value.lower()} applies only to a job that is "
            + " or ".join(str(p) for p in allowed)
        )
    return ""


def set_stage_label(job: Resource, stage: Stage, trigger: str) -> None:
    version = job.labels.get(LABEL_STAGE_VERSION, "0")
    job.labels[LABEL_STAGE] = stage.value
    job.labels[LABEL_STAGE_TRIGGER] = trigger
    job.labels[LABEL_STAGE_VERSION] = str(int(version) + 1 if version.isdigit() else 1)


def handle_stage_command(rnd: JobRound) -> bool:
    """Apply the job's stage label if it applies in this phase. True: the round is done ("reconciled")."""
    job = rnd.job
    try:
        stage = Stage(job.labels.get(LABEL_STAGE, ""))
    except ValueError:
        return False
    trigger = job.labels.get(LABEL_STAGE_TRIGGER) or rnd.spec.initiator
    status = job.status
    phase = JobPhase.parse(status.get("phase"))
    done = bool(status.get("completionTime"))
    if stage in (Stage.STOP, Stage.CANCEL):
        if stage is Stage.STOP and (phase is JobPhase.CANCELLED or (phase is JobPhase.FAILED and done)):
            return False
        if stage is Stage.CANCEL and phase is JobPhase.CANCELLED and done:
            return False
        rnd.stop_tasks()
        rnd.set_stage_status(f"Job{stage.value}StageSucceeded")
        rnd.fail_open_task_status()
        status["phase"] = str(JobPhase.FAILED if stage is Stage.STOP else JobPhase.CANCELLED)
        text = f"Party: {trigger} execute the cmd: {stage.value}."
        status["reason"] = text
        status["message"] = text
        status.setdefault("completionTime", rnd.now)
        return True
    if stage is Stage.SUSPEND:
        if phase is not JobPhase.RUNNING:
            return False
        rnd.stop_tasks()
        rnd.set_stage_status("JobSuspendStageSucceeded")
        status["phase"] = str(JobPhase.SUSPENDED)
        status["reason"] = f"Party: {trigger} execute the cmd: Suspend."
        status["message"] = ""
        return True
    if stage is Stage.RESTART:
        if validation_failed(job) or phase not in (JobPhase.FAILED, JobPhase.SUSPENDED):
            return False
        status["phase"] = str(JobPhase.RUNNING)
        status.pop("completionTime", None)
        status["message"] = f"This job is restarted by {trigger}"
        status["reason"] = f"Party: {trigger} execute the cmd: Restart."
        rnd.delete_unsucceeded_tasks()
        rnd.set_stage_status("JobRestartStageSucceeded")
        # D7: one cluster, no handshake: the restart is complete, so the label moves on to Start at once.
        set_stage_label(job, Stage.START, trigger)
        return True
    return False
