"""The one error handler of ``kgitops``: every failure a user can see ends here, as ``error: MESSAGE`` (and
``hint: HINT``) on stderr and the exit code of ``docs/exit-codes.md`` — never a traceback.

- ``reconciler.errors.KgitopsError``: its message, hint and ``exit_code`` (1: the operation failed; 2: it
  could not do its work);
- click's usage errors (an unknown flag, a bad value): the usage line, then the error; exit 2;
- Ctrl-C: 130 (128 + SIGINT), as shells report it;
- any other ``OSError`` (a file that cannot be read or written: no permission, a full disk, a name too
  long): ``error: PATH: REASON`` with a hint; exit 2, as the command could not do its work.

Top-level commands use :class:`Command` (groups :class:`Group`), so the handler applies however a command
is invoked: through ``kgitops``, or alone (``CliRunner().invoke(validate, ...)``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from reconciler.cli.exitcodes import ERROR, INTERRUPTED
from reconciler.errors import KgitopsError


def fail(message: str, hint: str = "", code: int = ERROR) -> NoReturn:
    """Print ``error: MESSAGE`` (and ``hint: HINT``) on stderr and exit with ``code``; every line of them
    ``printable`` (``reconciler.output.printable``): a name or path in a message brings no escape sequence."""
    click.echo(f"error: {_lines(message)}", err=True)
    if hint:
        click.echo(f"hint: {_lines(hint)}", err=True)
    sys.exit(code)


def _lines(text: str) -> str:
    """A message's own lines (some list their problems one a line), each ``printable``."""
    from reconciler.output.printable import printable  # on failure only: `kgitops --help` loads no more

    return "\n".join(printable(line) for line in text.split("\n"))


def _guarded(
    run: Callable[..., Any], args: Sequence[str] | None, standalone_mode: bool, kwargs: dict[str, Any]
) -> Any:
    if not standalone_mode:
        return run(args, standalone_mode=False, **kwargs)
    try:
        result = run(args, standalone_mode=False, **kwargs)
    except KgitopsError as exc:
        fail(exc.message, exc.hint, exc.exit_code)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
        help_hint = f"see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        fail(exc.format_message(), help_hint, exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), "", exc.exit_code)
    except click.Abort:
        click.echo("interrupted (SIGINT)", err=True)
        sys.exit(INTERRUPTED)
    except OSError as exc:
        fail(os_error_message(exc), "check the path, its permissions and the free space, then run the "
             "command again", ERROR)
    sys.exit(result if isinstance(result, int) else 0)


def os_error_message(exc: OSError) -> str:
    """``PATH: REASON`` (``PATH -> PATH2: REASON`` for a rename) of an ``OSError``; its text when it names
    no file."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    where = str(exc.filename) + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    return f"{where}: {reason}"


class Command(click.Command):
    """A command whose failures go through the one handler."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, standalone_mode: bool = True, **kwargs: Any
    ) -> Any:
        return _guarded(super().main, args, standalone_mode, kwargs)


class Group(click.Group):
    """A group whose failures (its subcommands' too) go through the one handler."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, standalone_mode: bool = True, **kwargs: Any
    ) -> Any:
        return _guarded(super().main, args, standalone_mode, kwargs)
