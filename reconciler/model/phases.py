"""Phase and command vocabularies of Kuscia (kuscia-semantics.md §1.2, §3, §5, §8)."""

from __future__ import annotations

from enum import StrEnum


class JobPhase(StrEnum):
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
        if not value or value.lower() == "initialized":
            return cls.INITIALIZED
        return cls(value)


FINAL_JOB_PHASES = frozenset(
    {JobPhase.SUCCEEDED, JobPhase.FAILED, JobPhase.APPROVAL_REJECT, JobPhase.CANCELLED}
)


class TaskPhase(StrEnum):
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
