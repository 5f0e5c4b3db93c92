"""Runtimes run the pods of a KusciaTask: real local processes, or a script (``kgitops simulate``)."""

from reconciler.engine.runtime.base import Launched, LaunchError, PodView, Runtime

__all__ = ["LaunchError", "Launched", "PodView", "Runtime"]
