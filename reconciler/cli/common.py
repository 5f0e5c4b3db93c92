"""The command grammar shared by every ``kgitops`` command: one spelling per meaning.

- ``--config``, ``--backend``, ``--state-dir``: which backend (``backend_options``; ``cli_config`` turns them
  into a ``Config`` through ``reconciler.sdk.configure``, flags winning over the file);
- ``-n/--namespace``: the jobs' namespace; ``-o/--output``: the output format; ``--no-color`` and
  ``NO_COLOR``: no colour (``colour_option``/``use_colour``);
- ``DURATION`` (``600``, ``90s``, ``10m``, ``1h30m``) and ``SIZE`` (``5MiB``) values, parsed by
  ``reconciler.units`` for every command alike;
- printing data (``emit_data``: JSON or YAML) and text (``emit_text``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler import sdk
from reconciler.errors import UsageError
from reconciler.units import parse_duration, parse_size

if TYPE_CHECKING:  # the config module is read only by the commands that use a backend
    from reconciler.config import Config

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_NAMESPACE = "cross-domain"
OUTPUTS = ("table", "wide", "json", "yaml")
COLOUR_KEY = "kgitops.color"  # where a command's --color/--no-color is kept for use_colour()


def _chain(func: F, options: Sequence[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def backend_options(func: F) -> F:
    """Add ``--config``, ``--backend``, ``--state-dir``, ``--kubeconfig`` and ``--context``; the command
    receives them as keyword arguments (``config_path``, ``backend_kind``, ``state_dir``, ``kubeconfig``,
    ``context``)."""
    return _chain(
        func,
        [
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
                type=click.Choice(("local", "kubernetes", "kusciaapi")),
                default=None,
                help="Backend to use (overrides the config file; default: local).",
            ),
            click.option(
                "--state-dir",
                type=click.Path(file_okay=False),
                default=None,
                envvar="KGITOPS_STATE_DIR",
                help="State directory of the embedded engine (local backend; default: .kgitops).",
            ),
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False),
                default=None,
                help="kubeconfig file (kubernetes backend; default: backend.kubernetes.kubeconfig, "
                "else $KUBECONFIG or ~/.kube/config).",
            ),
            click.option(
                "--context",
                default=None,
                help="kubeconfig context (kubernetes backend; default: the kubeconfig's current one).",
            ),
        ],
    )


def config_option(func: F) -> F:
    """``--config`` alone, for commands that use no backend (approvals)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        envvar="KGITOPS_CONFIG",
        help="Config file (default: ./kgitops.yaml if present).",
    )(func)


def namespace_option(func: F) -> F:
    return click.option(
        "-n",
        "--namespace",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="Namespace of the jobs and tasks.",
    )(func)


def cli_config(
    config_path: str | None,
    backend_kind: str | None = None,
    state_dir: str | None = None,
    context: str | None = None,
    overrides: sdk.Overrides | None = None,
    kubeconfig: str | None = None,
) -> Config:
    """The config file with the command-line flags applied (flags win); a bad file exits 2."""
    if overrides is None:  # the backend's flags alone (`job`, `task`): no Overrides to make
        return sdk.configure_backend(config_path, backend_kind, state_dir, context, kubeconfig)
    from dataclasses import replace

    base = overrides
    flags = replace(base, backend=backend_kind, state_dir=state_dir, context=context, kubeconfig=kubeconfig)
    return sdk.configure(config_path, flags)


def say_what_is_read(cfg: Config) -> None:
    for line in sdk.describe_backend(cfg):
        click.echo(line, err=True)


def pairs_flag(values: tuple[str, ...], what: str) -> dict[str, str]:
    """``KEY=VALUE`` flags (``--label``, ``--annotation``; ``what`` names the flag) as a dict; a malformed
    one is a usage error on that flag (``sdk.parse_pairs`` says why)."""
    try:
        return sdk.parse_pairs(values, what)
    except sdk.ClientError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{what}") from None


def output_option(choices: Sequence[str] = OUTPUTS, default: str | None = None) -> Callable[[F], F]:
    """``-o/--output``: the one spelling of the output format on every command."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(list(choices)),
        default=default or choices[0],
        show_default=True,
        help="Output format: " + ", ".join(choices) + ".",
    )


def colour_option(func: F) -> F:
    return click.option(
        "--color/--no-color",
        "color",
        default=None,
        help="Colour the text output (default: on a terminal, unless NO_COLOR is set).",
    )(func)


def use_colour(flag: bool | None = None) -> bool:
    """Whether to produce colour: ``--color``/``--no-color`` when given, else unless ``NO_COLOR`` is set
    (any non-empty value, https://no-color.org). Print with ``emit_text(text, flag)``: without a flag,
    click strips the colour again when stdout is not a terminal."""
    if flag is None:
        ctx = click.get_current_context(silent=True)
        flag = ctx.meta.get(COLOUR_KEY) if ctx is not None else None
    if flag is not None:
        return bool(flag)
    return not os.environ.get("NO_COLOR")


def emit_data(data: Any, output: str) -> None:
    """``data`` as indented JSON (``-o json``) or YAML (``-o yaml``), keys in the order given."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from reconciler import yamlio  # libyaml's emitter for long lists, the same text as PyYAML's

        click.echo(yamlio.safe_dump(data, sort_keys=False), nl=False)


def emit_text(text: str, flag: bool | None = None, nl: bool = True) -> None:
    """Text without trailing newlines (then one, unless ``nl`` is False); ``flag`` is ``--color`` (default:
    the command's, see ``use_colour``): True keeps colour even off a terminal, None lets click strip it."""
    if flag is None:
        ctx = click.get_current_context(silent=True)
        flag = ctx.meta.get(COLOUR_KEY) if ctx is not None else None
    click.echo(text.rstrip("\n") if nl else text, nl=nl, color=flag)


class Duration(click.ParamType):
    """Seconds, or a duration with units (``90s``, ``10m``, ``1h30m``), as ``reconciler.units`` reads it."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = parse_duration(value)
        except UsageError as exc:
            self.fail(exc.message, param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds


class Size(click.ParamType):
    """Bytes, or a size with binary units (``512KiB``, ``5MiB``), as ``reconciler.units`` reads it; at least
    1 byte: a limit of 0 would refuse every non-empty file, so ``0`` is a usage error on every command."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            size = parse_size(value)
        except UsageError as exc:
            self.fail(exc.message, param, ctx)
        if size < 1:
            self.fail(f"{value!r}: a size limit is at least 1 byte (e.g. 512KiB, 5MiB)", param, ctx)
        return size


DURATION = Duration()
SIZE = Size()


def file_size_option(func: F) -> F:
    """``--max-file-size SIZE`` of the commands that read one manifest file (``job create``, ``simulate``,
    ``graph``): a larger file, or one that is not a regular file, is refused before it is read."""
    return click.option(
        "--max-file-size",
        type=SIZE,
        default="5MiB",
        show_default=True,
        metavar="SIZE",
        help="Refuse a larger manifest file (bytes, or e.g. 512KiB, 5MiB).",
    )(func)


def client_command(func: F) -> F:
    """For ``job``/``task`` commands that act: backend flags plus ``-n/--namespace``; the command receives a
    ready ``client: sdk.Client`` (closed afterwards)."""
    return _client_command(func, readonly=False)


def reader_command(func: F) -> F:
    """``client_command`` for commands that only look (``job list``, ``job show``, ``task list``, ...): the
    backend is opened read-only (no state directory, store or engine driver is ever created) and the first
    line on stderr says which backend and state are read, with a note when that state does not exist."""
    return _client_command(func, readonly=True)


def _client_command(func: F, readonly: bool) -> F:
    import functools

    @backend_options
    @namespace_option
    @colour_option
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_path: str | None,
        backend_kind: str | None,
        state_dir: str | None,
        kubeconfig: str | None,
        context: str | None,
        namespace: str,
        color: bool | None,
        **kwargs: Any,
    ) -> Any:
        click.get_current_context().meta[COLOUR_KEY] = color
        cfg = cli_config(config_path, backend_kind, state_dir, context, kubeconfig=kubeconfig)
        if readonly:
            say_what_is_read(cfg)
        with sdk.Client.from_config(cfg, namespace, readonly=readonly) as client:
            return func(*args, client=client, **kwargs)

    return wrapper  # type: ignore[return-value]
