"""Settings given by a caller that win over the config file (``reconciler.sdk.configure`` applies them).

Its own module: a frozen dataclass of 31 fields costs about 3 ms to make at import, which the commands that
take no overrides (``job``, ``task``) don't pay (they use ``configure_backend``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Overrides"]


@dataclass(frozen=True)
class Overrides:
    """Settings that win over the config file; ``None`` (or ``False`` for the ``git`` switch) keeps it.

    Field names follow the config file (``docs/config.md``): ``backend`` is ``backend.kind``, ``state_dir``
    ``engine.state_dir``, ``source``/``git``/``ref``/``subpath``/``ssh_key``/``source_id`` the ``source``
    section, ``status_*`` the ``status`` section, ``prune``/``max_prune`` the ``prune`` section,
    ``recreate_drifted``/``resync_interval``/``metrics_addr``/``log_format`` the ``sync`` section,
    ``poll_interval``/``debounce`` (seconds) ``source``, ``status_interval`` (seconds) ``status.interval``
    ``kubeconfig``/``context`` ``backend.kubernetes.kubeconfig``/``.context``, ``prune_grace_period``
    (seconds) ``prune.grace_period`` and ``webhook_listen`` ``webhook.listen``; ``leader_elect``,
    ``leader_elect_lease``, ``leader_elect_namespace`` and ``lease_duration``/``renew_deadline``/
    ``retry_period`` (seconds) the ``leader_election`` section (``enabled``, ``lease``, ...).
    """

    backend: str | None = None
    state_dir: str | None = None
    source: str | None = None
    git: bool = False
    ref: str | None = None
    subpath: str | None = None
    ssh_key: str | None = None
    source_id: str | None = None
    status_dir: str | None = None
    status_branch: str | None = None
    status_commit: bool | None = None
    status_push: bool | None = None
    prune: bool | None = None
    max_prune: int | None = None
    recreate_drifted: bool | None = None
    poll_interval: float | None = None
    debounce: float | None = None
    status_interval: float | None = None
    resync_interval: float | None = None
    metrics_addr: str | None = None
    log_format: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    prune_grace_period: float | None = None
    webhook_listen: str | None = None
    leader_elect: bool | None = None
    leader_elect_lease: str | None = None
    leader_elect_namespace: str | None = None
    lease_duration: float | None = None
    renew_deadline: float | None = None
    retry_period: float | None = None
