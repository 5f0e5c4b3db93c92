"""A ``Config`` for one run: the config file with the caller's overrides on top, in one place.

Every command-line flag that mirrors a config setting becomes a field of :class:`Overrides`; ``configure``
applies the ones that are set (``None`` means "keep the file's value"), so a flag means the same thing in
every command and in the SDK. Paths given as overrides are relative to the working directory, not to the
config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config import Config, load_config

if TYPE_CHECKING:  # a frozen dataclass of 31 fields (about 3 ms to make): only the commands that take it
    from reconciler.sdk.overrides import Overrides

__all__ = ["BACKEND_KINDS", "configure", "configure_backend", "describe_backend"]

BACKEND_KINDS = ("local", "kubernetes", "kusciaapi")


def configure(config: Config | str | Path | None = None, overrides: Overrides | None = None) -> Config:
    """The config (a ``Config``, a file path, or ``None`` for ./kgitops.yaml or the defaults) with
    ``overrides`` applied. Raises ``reconciler.config.ConfigError`` (a ``KgitopsError``, exit 2) naming the
    file, position and fix when the file cannot be used."""
    cfg = config if isinstance(config, Config) else load_config(config)
    if overrides is None:  # Overrides(): every field keeps the file's value
        return cfg
    o = overrides
    _backend_flags(cfg, o.backend, o.state_dir, o.context, o.kubeconfig)
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
    if o.prune_grace_period is not None:
        cfg.prune.grace_period = o.prune_grace_period
    _leader_election(cfg, o)
    return cfg


def configure_backend(
    config: Config | str | Path | None = None,
    backend: str | None = None,
    state_dir: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
) -> Config:
    """``configure(config, Overrides(backend=..., state_dir=..., context=..., kubeconfig=...))``: the config
    with only the backend's overrides, as the job and task commands take them (without making an
    ``Overrides``). Raises ``ConfigError`` as ``configure`` does."""
    cfg = config if isinstance(config, Config) else load_config(config)
    _backend_flags(cfg, backend, state_dir, context, kubeconfig)
    return cfg


def _backend_flags(
    cfg: Config, backend: str | None, state_dir: str | None, context: str | None, kubeconfig: str | None
) -> None:
    if backend:
        cfg.backend.kind = backend
    if state_dir:
        cfg.engine.state_dir = str(Path(state_dir).resolve())
    if context is not None:
        cfg.backend.kubernetes.context = context
    if kubeconfig is not None:
        cfg.backend.kubernetes.kubeconfig = str(Path(kubeconfig).expanduser().resolve())


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
