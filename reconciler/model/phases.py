"""Phase and command vocabularies of Kuscia (kuscia-semantics.md §1.1, §1.2, §3, §5, §7, §8, §9).

Every phase, approval and stage-status value, stage command and schedule mode kgitops reads or writes is
spelt here, once; the rest of the package compares with these members (a ``StrEnum`` compares equal to its
string) and writes ``str(member)`` into status mappings, which stay plain JSON/YAML data. Condition types and
reasons live in ``reconciler.kuscia.conditions``, label keys in ``reconciler.kuscia.labels``.
"""

from __future__ import annotations

from enum import StrEnum

KUSCIA_INITIALIZED = "initialized"
"""How Kuscia spells the Initialized phase in a KusciaJob's ``status.phase`` (§1.2); ``JobPhase.parse``
reads it, and ``""``, as ``JobPhase.INITIALIZED`` (D8)."""


class JobPhase(StrEnum):
    """``KusciaJobPhase`` (``kusciajob_types.go``, §1.2): a KusciaJob's ``status.phase``, in our spelling."""

    # D8: Kuscia writes "initialized" in lower case; our own views say "Initialized".
    INITIALIZED = "Initialized"
    AWAITING_APPROVAL = "AwaitingApproval"
    PENDING = "Pending"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    APPROVAL_REJECT = "ApprovalReject"
    CANCELLED = "Cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_JOB_PHASES

    @classmethod
    def parse(cls, value: str | None) -> JobPhase:
        """Accept Kuscia's spellings too ("initialized", "")."""
        if not value or value.lower() == KUSCIA_INITIALIZED:
            return cls.INITIALIZED
        return cls(value)


FINAL_JOB_PHASES = frozenset(
    {JobPhase.SUCCEEDED, JobPhase.FAILED, JobPhase.APPROVAL_REJECT, JobPhase.CANCELLED}
)
SETTLED_JOB_PHASES: tuple[JobPhase, ...] = (JobPhase.SUCCEEDED, JobPhase.APPROVAL_REJECT, JobPhase.CANCELLED)
"""The phases in which Kuscia's controller leaves a job alone once its ``completionTime`` is set
(``ShouldReconcile``, ``pkg/controllers/kusciajob/controller.go``, §2.3); Failed and Suspended stay
reconciled, which is what lets Restart work."""


KUSCIAAPI_JOB_STATES = frozenset(JobPhase) - {JobPhase.INITIALIZED}
"""The job phases KusciaAPI's ``JobStatusDetail.state`` reports as themselves (§9); ``""`` reads
``Pending``, and ``initialized`` (or anything else) ``KUSCIAAPI_UNKNOWN_STATE``: the proto enum has no
Initialized (D8)."""
KUSCIAAPI_UNKNOWN_STATE = "Unknown"
"""``JobStatusDetail.state`` of a job in a phase KusciaAPI has no state for (``initialized``, §9)."""


class TaskPhase(StrEnum):
    """``KusciaTaskPhase`` (``kusciatask_types.go``, §8): a KusciaTask's ``status.phase``, also a party's
    ``partyTaskStatus[].phase`` and a job's ``status.taskStatus`` values."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_final(self) -> bool:
        return self in (TaskPhase.SUCCEEDED, TaskPhase.FAILED)

    @classmethod
    def parse(cls, value: str | None) -> TaskPhase:
        """A phase of "" is handled as Pending (§4.1, §8)."""
        return cls(value) if value else cls.PENDING


OPEN_TASK_PHASES: tuple[TaskPhase, ...] = (TaskPhase.PENDING, TaskPhase.RUNNING)
"""The phases of a task that has not ended: Stop and a job's Failed handler make them Failed (§3, §5.1)."""


class PodPhase(StrEnum):
    """A pod's phase (Kubernetes ``core/v1`` ``PodPhase``), as ``status.podStatuses[].podPhase`` of a
    KusciaTask carries it (§8). The engine's runtimes report these four; Kubernetes' ``Unknown`` is counted as
    failed by Kuscia and never reported here."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class ApprovePhase(StrEnum):
    """A party's value in a KusciaJob's ``status.approveStatus`` (``JobApprovePhase``, ``kusciajob_types.go``,
    §1.2, §7)."""

    ACCEPTED = "JobAccepted"
    REJECTED = "JobRejected"


class JobStagePhase(StrEnum):
    """A party's value in a KusciaJob's ``status.stageStatus`` (``JobStagePhase``, ``kusciajob_types.go``,
    §1.2): ``Job<Stage>Stage{Succeeded,Failed}``."""

    CREATE_SUCCEEDED = "JobCreateStageSucceeded"
    CREATE_FAILED = "JobCreateStageFailed"
    START_SUCCEEDED = "JobStartStageSucceeded"
    START_FAILED = "JobStartStageFailed"
    STOP_SUCCEEDED = "JobStopStageSucceeded"
    STOP_FAILED = "JobStopStageFailed"
    CANCEL_SUCCEEDED = "JobCancelStageSucceeded"
    CANCEL_FAILED = "JobCancelStageFailed"
    RESTART_SUCCEEDED = "JobRestartStageSucceeded"
    RESTART_FAILED = "JobRestartStageFailed"
    SUSPEND_SUCCEEDED = "JobSuspendStageSucceeded"
    SUSPEND_FAILED = "JobSuspendStageFailed"

    @classmethod
    def succeeded(cls, stage: Stage) -> JobStagePhase:
        """``Job<stage>StageSucceeded``: what a party records once it has carried out ``stage`` (§5).

        Raises ValueError for a stage with no such value."""
        return cls(f"Job{stage.value}StageSucceeded")


DEFAULT_MAX_PARALLELISM = 1  # KusciaJob.spec.maxParallelism's default (the CRD's)


class ScheduleMode(StrEnum):
    STRICT = "Strict"
    BEST_EFFORT = "BestEffort"


class Stage(StrEnum):
    """Stage commands carried by the ``kuscia.secretflow/job-stage`` label (§5)."""

    CREATE = "Create"
    START = "Start"
    STOP = "Stop"
    CANCEL = "Cancel"
    SUSPEND = "Suspend"
    RESTART = "Restart"
