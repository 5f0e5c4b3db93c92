"""Typed manifest objects shared by every layer; pure data, no I/O.

The typed specs (``specs``) are imported on first use (PEP 562): a command that only reads objects
(``kgitops job list``) never types a spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports
from reconciler.model.objects import (
    API_VERSION,
    DEFAULT_NAMESPACE,
    KINDS,
    ObjectRef,
    Origin,
    Resource,
)
from reconciler.model.phases import JobPhase, ScheduleMode, Stage, TaskPhase

if TYPE_CHECKING:
    from reconciler.model.specs import AppImageSpec, JobSpec, Party, TaskSpec, TaskTemplate

_SPECS = ("AppImageSpec", "JobSpec", "Party", "TaskSpec", "TaskTemplate")

__all__ = [
    "API_VERSION",
    "DEFAULT_NAMESPACE",
    "KINDS",
    "AppImageSpec",
    "JobPhase",
    "JobSpec",
    "ObjectRef",
    "Origin",
    "Party",
    "Resource",
    "ScheduleMode",
    "Stage",
    "TaskPhase",
    "TaskSpec",
    "TaskTemplate",
]


__getattr__ = lazy_exports(__name__, dict.fromkeys(_SPECS, "specs"), globals())
