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


def client_command(func: F) -> F:
    """For ``job``/``task``/``graph`` commands: backend flags plus ``-n/--namespace``; the command receives a
    ready ``client: Client`` (closed afterwards) and SDK errors become one-line messages, never tracebacks."""
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
        try:
            with Client.from_config(cfg, namespace) as client:
                return func(*args, client=client, **kwargs)
        except (ClientError, BackendError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
