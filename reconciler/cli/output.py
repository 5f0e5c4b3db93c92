"""How ``job``, ``task`` and ``graph`` commands print: ``-o table|wide|json|yaml``, colour only for a
terminal (and never with ``NO_COLOR``), data formats that parse back to the SDK's ``to_dict()``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import yaml

OUTPUTS = ("table", "wide", "json", "yaml")

F = TypeVar("F", bound=Callable[..., Any])


def output_option(func: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUTS),
        default="table",
        show_default=True,
        help="Output format: aligned table, wide table, JSON or YAML.",
    )(func)


def use_colour() -> bool:
    """ANSI colour unless NO_COLOR is set; click.echo strips it anyway when stdout is not a terminal."""
    return not os.environ.get("NO_COLOR")


def emit_data(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def emit_text(text: str) -> None:
    click.echo(text.rstrip("\n"))
