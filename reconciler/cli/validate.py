"""``kgitops validate``: check manifests on a laptop or in CI. Exit 0 valid, 1 errors found, 2 usage/I-O."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from reconciler import sdk
from reconciler.cli.common import SIZE, colour_option, emit_text, use_colour
from reconciler.cli.handler import Command
from reconciler.output import FORMATS, STREAMED, finding_line, render


@click.command(cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
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
    type=SIZE,
    default="5MiB",
    show_default=True,
    metavar="SIZE",
    help="Larger files are reported and not parsed (bytes, or e.g. 512KiB, 5MiB).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Processes for large inputs: this one and N-1 workers (0: one per CPU).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="KGITOPS_NO_CACHE",
    help="Check every file again, without the result cache (~/.cache/kgitops; also KGITOPS_NO_CACHE=1).",
)
@colour_option
def validate(
    paths: tuple[str, ...],
    output: str,
    lenient: bool,
    reject_unknown_kinds: bool,
    max_file_size: int,
    workers: int,
    no_cache: bool,
    color: bool | None,
) -> None:
    """Validate KusciaJob, KusciaTask and AppImage manifests.

    PATHS are files or directories (every .yaml/.yml below, sorted); `-` reads standard input. A file
    unchanged since a run before (same bytes, same options) is not parsed again: its findings come from the
    result cache, and are the same.
    """
    with _few_collections():
        code = _run(paths, output, lenient, reject_unknown_kinds, max_file_size, workers, not no_cache, color)
    sys.exit(code)


@contextmanager
def _few_collections() -> Iterator[None]:
    """A file's node tree and data are thousands of short-lived objects that reference counting frees, so the
    cycle collector's passes (every 700 allocations, over every young object) find next to nothing: while
    the files are checked, they run a seventieth as often, and never over the objects of start-up
    (``gc.freeze``). Both are undone after (the command also runs inside other processes: tests, scripts)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _run(
    paths: tuple[str, ...],
    output: str,
    lenient: bool,
    reject_unknown_kinds: bool,
    max_file_size: int,
    workers: int,
    cache: bool,
    color: bool | None,
) -> int:
    if output not in STREAMED:
        report = sdk.validate(list(paths), lenient, reject_unknown_kinds, max_file_size, workers, cache)
        emit_text(render(report, output, color=use_colour(color)), color, nl=False)
        return report.exit_code
    # one line per finding: each file's findings are printed as soon as they are final, none are kept
    from reconciler.output.text import summary

    run = sdk.validate_stream(
        list(paths), lenient, reject_unknown_kinds, max_file_size, workers, cache=cache
    )
    colour = use_colour(color)
    for batch in run:
        if batch.findings:
            lines = [finding_line(f, output, colour) for f in batch.findings]
            emit_text("\n".join(lines) + "\n", color, nl=False)
    emit_text(summary(run.totals) + "\n", color, nl=False)
    return run.totals.exit_code
