"""Command-line options shared by every command that talks to a backend.

One decorator, ``backend_options``, adds ``--config``, ``--backend`` and ``--state-dir`` so that
``kgitops sync``, ``kgitops job`` and ``kgitops task`` pick the backend the same way; ``load_cli_config``
turns those flags into a ``Config`` (flags win over the file).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.config import Config, ConfigError, load_config

BACKEND_KINDS = ("local", "kubernetes", "kusciaapi")

F = TypeVar("F", bound=Callable[..., Any])


def backend_options(func: F) -> F:
    """Add ``--config``, ``--backend`` and ``--state-dir``; the command receives them as keyword arguments."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            default=None,
            envvar="KGITOPS_CONFIG",
            help="Config file (default: ./kgitops.yaml if present).",
        ),
        click.option(
            "--backend",
            "backend_kind",
            type=click.Choice(BACKEND_KINDS),
            default=None,
            help="Backend to use (overrides the config file; default: local).",
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False),
            default=None,
            help="State directory of the embedded engine (local backend; default: .kgitops).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class ConfigFailure(click.ClickException):
    """A config file that cannot be used: exit 2 (a usage problem, as in the exit-code table), with every
    problem as ``file:line:column: message and fix`` and never a traceback."""

    exit_code = 2


def read_config(config_path: str | None) -> Config:
    """``load_config`` for a command: a ConfigError becomes ConfigFailure (exit 2)."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise ConfigFailure(str(exc)) from None


def load_cli_config(config_path: str | None, backend_kind: str | None, state_dir: str | None) -> Config:
    """The config file with the command-line flags applied; a config problem exits 2 (ConfigFailure)."""
    cfg = read_config(config_path)
    if backend_kind:
        cfg.backend.kind = backend_kind
    if state_dir:
        # A flag is relative to the working directory, not to the config file.
        cfg.engine.state_dir = str(Path(state_dir).resolve())
    return cfg


def pass_config(func: F) -> F:
    """Like ``backend_options``, but the command gets a ready ``config: Config`` instead of three flags."""

    @backend_options
    @functools.wraps(func)
    def wrapper(
        *args: Any, config_path: str | None, backend_kind: str | None, state_dir: str | None, **kwargs: Any
    ) -> Any:
        return func(*args, config=load_cli_config(config_path, backend_kind, state_dir), **kwargs)

    return wrapper  # type: ignore[return-value]


def describe_backend(cfg: Config) -> list[str]:
    """What a read-only command reads, for its first line(s) on stderr: the backend and its state, and a note
    when that state does not exist (it then reads as empty: exit 0, nothing created)."""
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


def say_what_is_read(cfg: Config) -> None:
    for line in describe_backend(cfg):
        click.echo(line, err=True)


def client_command(func: F) -> F:
    """For ``job``/``task``/``graph`` commands: backend flags plus ``-n/--namespace``; the command receives a
    ready ``client: Client`` (closed afterwards) and SDK errors become one-line messages, never tracebacks."""
    return _client_command(func, readonly=False)


def reader_command(func: F) -> F:
    """``client_command`` for commands that only look (``job list``, ``job show``, ``task list``, ...): the
    backend is opened read-only (no state directory, store or engine driver is ever created) and the first
    line on stderr says which backend and state are read, with a note when that state does not exist."""
    return _client_command(func, readonly=True)


def _client_command(func: F, readonly: bool) -> F:
    from reconciler.model import DEFAULT_NAMESPACE

    @backend_options
    @click.option(
        "-n",
        "--namespace",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="Namespace of the jobs and tasks.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_path: str | None,
        backend_kind: str | None,
        state_dir: str | None,
        namespace: str,
        **kwargs: Any,
    ) -> Any:
        from reconciler.backends.base import BackendError
        from reconciler.client import Client, ClientError

        cfg = load_cli_config(config_path, backend_kind, state_dir)
        if readonly:
            say_what_is_read(cfg)
        try:
            with Client.from_config(cfg, namespace, readonly=readonly) as client:
                return func(*args, client=client, **kwargs)
        except (ClientError, BackendError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
