"""``kgitops validate``: check manifests on a laptop or in CI. Exit 0 valid, 1 errors found, 2 usage/I-O."""

from __future__ import annotations

import os
import re
import sys

import click

from reconciler.output import FORMATS, render
from reconciler.validate import DEFAULT_MAX_FILE_SIZE, Options, PathNotFound, validate_paths

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``5242880``, ``512KiB``, ``5MiB``, ``5M``: binary units."""
    m = _SIZE.match(text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size (examples: 1048576, 512KiB, 5MiB)")
    unit = (m.group(2) or "").upper()[:1]
    return int(m.group(1)) * _UNITS[unit]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, junit for CI test reports, github for PR annotations.",
)
@click.option("--lenient", is_flag=True, help="Report unknown fields as warnings instead of errors.")
@click.option(
    "--reject-unknown-kinds",
    is_flag=True,
    help="Documents of kinds other than KusciaJob, KusciaTask and AppImage are errors, not notes.",
)
@click.option(
    "--max-file-size",
    default=str(DEFAULT_MAX_FILE_SIZE),
    show_default=True,
    metavar="SIZE",
    help="Larger files are reported and not parsed (bytes, or e.g. 512KiB, 5MiB).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes for large inputs (0: one per CPU).",
)
@click.option(
    "--color/--no-color", default=None, help="Colour the text output (default: when on a terminal)."
)
def validate(
    paths: tuple[str, ...],
    fmt: str,
    lenient: bool,
    reject_unknown_kinds: bool,
    max_file_size: str,
    jobs: int,
    color: bool | None,
) -> None:
    """Validate KusciaJob, KusciaTask and AppImage manifests.

    PATHS are files or directories (every .yaml/.yml below, sorted); `-` reads standard input.
    """
    size = parse_size(max_file_size)
    options = Options(lenient=lenient, reject_unknown_kinds=reject_unknown_kinds, max_file_size=size)
    try:
        report = validate_paths(list(paths), options, jobs=jobs or (os.cpu_count() or 1))
    except PathNotFound as exc:
        click.echo(f"kgitops validate: {exc.args[0]}: no such file or directory", err=True)
        sys.exit(2)
    use_color = sys.stdout.isatty() and "NO_COLOR" not in os.environ if color is None else color
    click.echo(render(report, fmt, color=use_color), nl=False, color=use_color)
    sys.exit(report.exit_code)
