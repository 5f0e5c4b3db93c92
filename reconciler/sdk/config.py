"""A ``Config`` for one run: the config file with the caller's overrides on top, in one place.

Every command-line flag that mirrors a config setting becomes a field of :class:`Overrides`; ``configure``
applies the ones that are set (``None`` means "keep the file's value"), so a flag means the same thing in
every command and in the SDK. Paths given as overrides are relative to the working directory, not to the
config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.config import Config, load_config

__all__ = ["BACKEND_KINDS", "Overrides", "configure", "describe_backend"]

BACKEND_KINDS = ("local", "kubernetes", "kusciaapi")


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


def configure(config: Config | str | Path | None = None, overrides: Overrides | None = None) -> Config:
    """The config (a ``Config``, a file path, or ``None`` for ./kgitops.yaml or the defaults) with
    ``overrides`` applied. Raises ``reconciler.config.ConfigError`` (a ``KgitopsError``, exit 2) naming the
    file, position and fix when the file cannot be used."""
    cfg = config if isinstance(config, Config) else load_config(config)
    o = overrides or Overrides()
    if o.backend:
        cfg.backend.kind = o.backend
    if o.state_dir:
        cfg.engine.state_dir = str(Path(o.state_dir).resolve())
    if o.source:
        from reconciler.source import looks_like_url

        cfg.source.path = o.source if looks_like_url(o.source) else str(Path(o.source).resolve())
        cfg.source.git = o.git
    elif o.git:
        cfg.source.git = True
    if o.ref is not None:
        cfg.source.ref = o.ref
    if o.subpath is not None:
        cfg.source.subpath = o.subpath
    if o.ssh_key is not None:
        cfg.source.ssh_key = str(Path(o.ssh_key).expanduser().resolve())
    if o.source_id is not None:
        cfg.source.id = o.source_id
    if o.status_dir is not None:
        cfg.status.dir = str(Path(o.status_dir).resolve())
    if o.status_branch is not None:
        cfg.status.branch = o.status_branch
    if o.status_commit is not None:
        cfg.status.commit = o.status_commit
    if o.status_push is not None:
        cfg.status.push = o.status_push
    if o.prune is not None:
        cfg.prune.enabled = o.prune
    if o.max_prune is not None:
        cfg.prune.max = o.max_prune
    if o.recreate_drifted is not None:
        cfg.sync.recreate_drifted = o.recreate_drifted
    if o.webhook_listen is not None:
        cfg.webhook.listen = o.webhook_listen
    if o.poll_interval is not None:
        cfg.source.poll_interval = o.poll_interval
    if o.debounce is not None:
        cfg.source.debounce = o.debounce
    if o.status_interval is not None:
        cfg.status.interval = o.status_interval
    if o.resync_interval is not None:
        cfg.sync.resync_interval = o.resync_interval
    if o.metrics_addr is not None:
        cfg.sync.metrics_addr = o.metrics_addr
    if o.log_format is not None:
        cfg.sync.log_format = o.log_format
    if o.context is not None:
        cfg.backend.kubernetes.context = o.context
    if o.kubeconfig is not None:
        cfg.backend.kubernetes.kubeconfig = str(Path(o.kubeconfig).expanduser().resolve())
    if o.prune_grace_period is not None:
        cfg.prune.grace_period = o.prune_grace_period
    _leader_election(cfg, o)
    return cfg


def _leader_election(cfg: Config, o: Overrides) -> None:
    le = cfg.leader_election
    if o.leader_elect is not None:
        le.enabled = o.leader_elect
    if o.leader_elect_lease is not None:
        le.lease = o.leader_elect_lease
    if o.leader_elect_namespace is not None:
        le.namespace = o.leader_elect_namespace
    if o.lease_duration is not None:
        le.lease_duration = o.lease_duration
    if o.renew_deadline is not None:
        le.renew_deadline = o.renew_deadline
    if o.retry_period is not None:
        le.retry_period = o.retry_period


def describe_backend(cfg: Config) -> list[str]:
    """What a read-only call reads, as lines for stderr: the backend and its state, and a note when that
    state does not exist (it then reads as empty: nothing is created)."""
    kind = cfg.backend.kind or "local"
    origin = f"config {cfg.file}" if cfg.file else "no config file"
    if kind == "kubernetes":
        k = cfg.backend.kubernetes
        where = (
            "the Pod's service account"
            if k.in_cluster
            else f"kubeconfig {k.kubeconfig or '$KUBECONFIG or ~/.kube/config'}, "
            f"context {k.context or '(current)'}"
        )
        return [f"reading: kubernetes backend ({where}; {origin})"]
    if kind == "kusciaapi":
        from reconciler.source.git import redact

        endpoint = redact(cfg.backend.kusciaapi.endpoint) or "(no endpoint)"
        return [f"reading: kusciaapi backend at {endpoint} ({origin})"]
    from reconciler.backends.local import state_exists

    state = cfg.state_dir.resolve()
    lines = [f"reading: local engine state {state} ({origin})"]
    if not state_exists(state):
        lines.append(
            f"note: {state} holds no engine state yet (nothing has been synced or created there), so there "
            "is nothing to show; to read another state, pass --state-dir DIR or the --config FILE you synced "
            "with"
        )
    return lines
