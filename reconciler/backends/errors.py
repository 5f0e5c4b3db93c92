"""The errors every backend raises (``BackendError`` and its kinds, each meant for the user), and the checks
of a stage command that raise them: ``parse_stage`` (a command a user can issue) and
``check_kusciaapi_stage`` (a phase KusciaAPI would refuse, in its words). Importable from
``reconciler.backends.base`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import KgitopsError
from reconciler.model import Stage

if TYPE_CHECKING:
    from reconciler.kuscia.stages import Refusal
    from reconciler.validate.admission import Verdict


class BackendError(KgitopsError):
    """A backend operation failed; the message is meant for the user (exit code 1: the operation failed)."""

    exit_code = 1


class NotFound(BackendError):
    pass


class AlreadyExists(BackendError):
    pass


class Conflict(BackendError):
    """The object changed underneath us (resourceVersion mismatch)."""


class PhaseError(BackendError):
    """A command that the object's current phase does not allow (e.g. suspend a Failed job)."""

    def __init__(self, message: str, phase: str = "", allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.phase = phase
        self.allowed = allowed

    @classmethod
    def of(cls, refusal: Refusal, message: str) -> PhaseError:
        """The error for a ``reconciler.kuscia.stages`` refusal, worded ``message``."""
        return cls(message, refusal.phase, tuple(str(p) for p in refusal.allowed))


def parse_stage(value: str | Stage) -> Stage:
    """The stage command a backend writes (``kuscia.stages.LABEL_COMMANDS``); BackendError names the
    choices."""
    from reconciler.kuscia.stages import (  # writes only: `job list` never loads it
        LABEL_COMMANDS,
        parse_command,
    )

    stage = parse_command(value)
    if stage is None:
        choices = ", ".join(s.value for s in LABEL_COMMANDS)
        raise BackendError(f"`{value}` is not a stage command a user can issue; use one of: {choices}")
    return stage


def check_kusciaapi_stage(job_id: str, stage: Stage, status: Mapping[str, Any]) -> None:
    """Raise PhaseError, in KusciaAPI's words (§9), if KusciaAPI would refuse ``stage`` now."""
    from reconciler.kuscia.stages import kusciaapi_refusal

    refusal = kusciaapi_refusal(stage, status)
    if refusal is not None:
        raise PhaseError.of(refusal, refusal.kusciaapi_text(job_id))


class NotSupported(BackendError):
    pass


class Invalid(BackendError):
    """Admission refused the object: ``verdict`` lists every error (rule, field, message)."""

    def __init__(self, verdict: Verdict, action: str = "") -> None:
        text = verdict.message() if not action else f"cannot {action}: {verdict.message()}"
        super().__init__(text)
        self.verdict = verdict
