"""Open the backend named by the config (``local`` by default).

Nothing here guards writes: ``base.Backend`` itself runs admission in every backend, however it was built."""

from __future__ import annotations

from reconciler.backends.base import Backend, BackendError
from reconciler.config import Config


def open_backend(config: Config, readonly: bool = False) -> Backend:
    """``readonly`` (for commands that only look): the local engine creates nothing on disk and starts no
    driver (see ``LocalBackend``); the remote backends hold no local state, so it changes nothing there."""
    kind = config.backend.kind or "local"
    if kind == "local":
        from reconciler.backends.local import LocalBackend

        return LocalBackend.from_config(config, readonly=readonly)
    if kind == "kubernetes":
        from reconciler.backends.kubernetes import KubernetesBackend

        return KubernetesBackend.from_config(config)
    if kind == "kusciaapi":
        from reconciler.backends.kusciaapi import KusciaAPIBackend

        return KusciaAPIBackend.from_config(config)
    raise BackendError(f"unknown backend `{kind}`; use one of: local, kubernetes, kusciaapi")
