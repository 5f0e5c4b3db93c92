"""Executing a plan against a backend: sync, prune safety, inventory."""

from reconciler.apply.reconcile import Planned, Reconciler
from reconciler.apply.sync import Applied, Outcome, SyncResult, sync

__all__ = ["Applied", "Outcome", "Planned", "Reconciler", "SyncResult", "sync"]
