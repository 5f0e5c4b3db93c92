"""Desired vs live: the desired-state builder, the pure differ and the plan it produces."""

from reconciler.plan.desired import DesiredStateBuilder, ManifestFile
from reconciler.plan.diff import PlanOptions, make_plan
from reconciler.plan.model import Action, DesiredState, FieldChange, Plan, PlanEntry

__all__ = [
    "Action",
    "DesiredState",
    "DesiredStateBuilder",
    "FieldChange",
    "ManifestFile",
    "Plan",
    "PlanEntry",
    "PlanOptions",
    "make_plan",
]
