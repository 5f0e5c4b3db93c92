"""Who may reconcile in ``kgitops watch``: the state directory's lock always, and with leader election also a
``coordination.k8s.io/v1`` Lease shared by the replicas (``leader_election.*``, docs/backends.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reconciler.config import Config
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.apply.lock import Leadership
    from reconciler.apply.session import Session

IN_POD_ENV = "KUBERNETES_SERVICE_HOST"  # set by the kubelet in every container of a Pod


def leader_election_on(cfg: Config, environ: Mapping[str, str] = os.environ) -> bool:
    """``leader_election.enabled`` when set; otherwise on for the kubernetes backend inside a Pod (where
    replicas are one `kubectl scale` away), off elsewhere (a local watch keeps only its state directory
    lock)."""
    enabled = cfg.leader_election.enabled
    if enabled is not None:
        return enabled
    return cfg.backend.kind == "kubernetes" and IN_POD_ENV in environ


def leadership_for(cfg: Config, session: Session) -> Leadership:
    """The state directory's lock, joined by a ``LeaseElector`` when leader election is on. Raises
    ``UsageError`` (exit 2) when it is asked for a backend without a Lease or with durations that cannot
    work together."""
    from reconciler.apply.lock import Jointly, StateLock
    from reconciler.backends.k8s.election import ElectionError, Timing
    from reconciler.backends.k8s.lease import LeaseClient, LeaseElector, default_identity, default_lease_name
    from reconciler.backends.kubernetes import KubernetesBackend

    lock = StateLock(cfg.state_dir)
    if not leader_election_on(cfg):
        return lock
    backend = session.backend
    if not isinstance(backend, KubernetesBackend):
        raise UsageError(
            f"leader election needs the kubernetes backend (the Lease lives in the cluster), not "
            f"`{cfg.backend.kind}`",
            "drop --leader-elect (leader_election.enabled), or use --backend kubernetes",
        )
    le = cfg.leader_election
    timing = Timing(le.lease_duration, le.renew_deadline, le.retry_period)
    try:
        timing.check()
    except ElectionError as exc:
        raise UsageError(
            f"leader election: {exc}",
            "set leader_election.lease_duration > renew_deadline > 1.2 x retry_period (or the "
            "--leader-elect-* flags); the defaults are 15, 10 and 2 s",
        ) from None
    client = LeaseClient(
        backend.api_client,
        le.namespace or backend.namespace,
        le.lease or default_lease_name(session.source.source_id),
        request_timeout=max(1.0, min(backend.request_timeout, timing.renew_deadline / 2)),
    )
    return Jointly(lock, LeaseElector(client, default_identity(), timing))
