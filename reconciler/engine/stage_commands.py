"""The embedded engine's side of stage commands: what the controller does with the
``kuscia.secretflow/job-stage`` label in each phase (kuscia-semantics.md §5, D6, D7).

The phase handlers call ``handle_stage_command`` first, as Kuscia's do. Whether a command acts is Kuscia's
rule ``reconciler.kuscia.stages.controller_acts``; this module carries out its effect on a ``StageRound``.
"""

from __future__ import annotations

from typing import Protocol

from reconciler.kuscia.labels import LABEL_JOB_STAGE, LABEL_JOB_STAGE_TRIGGER
from reconciler.kuscia.stages import controller_acts, with_stage
from reconciler.model import JobPhase, JobSpec, Resource, Stage
from reconciler.model.phases import JobStagePhase


class StageRound(Protocol):
    """What a stage command needs of one reconcile round (``job_controller.JobRound`` is one)."""

    @property
    def job(self) -> Resource: ...
    @property
    def spec(self) -> JobSpec: ...
    @property
    def now(self) -> str: ...
    def stop_tasks(self) -> None: ...
    def set_stage_status(self, value: JobStagePhase) -> None: ...
    def fail_open_task_status(self) -> None: ...
    def delete_unsucceeded_tasks(self) -> None: ...


def set_stage_label(job: Resource, stage: Stage, trigger: str) -> None:
    """Write ``stage`` issued by domain ``trigger`` to the job's labels (version +1)."""
    job.labels.update(with_stage(job.labels, stage, trigger))


def handle_stage_command(rnd: StageRound) -> bool:
    """Apply the job's stage label if it applies in this phase. True: the round is done ("reconciled")."""
    job = rnd.job
    try:
        stage = Stage(job.labels.get(LABEL_JOB_STAGE, ""))
    except ValueError:
        return False
    status = job.status
    if not controller_acts(stage, status):
        return False
    trigger = job.labels.get(LABEL_JOB_STAGE_TRIGGER) or rnd.spec.initiator
    if stage in (Stage.STOP, Stage.CANCEL):
        rnd.stop_tasks()
        rnd.set_stage_status(JobStagePhase.succeeded(stage))
        rnd.fail_open_task_status()
        status["phase"] = str(JobPhase.FAILED if stage is Stage.STOP else JobPhase.CANCELLED)
        text = f"Party: {trigger} execute the cmd: {stage.value}."
        status["reason"] = text
        status["message"] = text
        status.setdefault("completionTime", rnd.now)
        return True
    if stage is Stage.SUSPEND:
        rnd.stop_tasks()
        rnd.set_stage_status(JobStagePhase.SUSPEND_SUCCEEDED)
        status["phase"] = str(JobPhase.SUSPENDED)
        status["reason"] = f"Party: {trigger} execute the cmd: Suspend."
        status["message"] = ""
        return True
    if stage is Stage.RESTART:
        status["phase"] = str(JobPhase.RUNNING)
        status.pop("completionTime", None)
        status["message"] = f"This job is restarted by {trigger}"
        status["reason"] = f"Party: {trigger} execute the cmd: Restart."
        rnd.delete_unsucceeded_tasks()
        rnd.set_stage_status(JobStagePhase.RESTART_SUCCEEDED)
        # D7: one cluster, no handshake: the restart is complete, so the label moves on to Start at once.
        set_stage_label(job, Stage.START, trigger)
        return True
    return False
