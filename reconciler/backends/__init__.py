"""Backends: one interface (``base.Backend``), implemented by the embedded engine, Kubernetes, KusciaAPI."""

from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Conflict,
    Invalid,
    NotFound,
    NotSupported,
    PhaseError,
)

__all__ = [
    "AlreadyExists",
    "Backend",
    "BackendError",
    "Conflict",
    "Invalid",
    "NotFound",
    "NotSupported",
    "PhaseError",
]
