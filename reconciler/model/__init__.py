"""Typed manifest objects shared by every layer; pure data, no I/O."""

from reconciler.model.objects import (
    API_VERSION,
    DEFAULT_NAMESPACE,
    KINDS,
    ObjectRef,
    Origin,
    Resource,
)
from reconciler.model.phases import JobPhase, ScheduleMode, Stage, TaskPhase
from reconciler.model.specs import AppImageSpec, JobSpec, Party, TaskSpec, TaskTemplate

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
