"""The one exception root of kgitops: every error a user can see is a :class:`KgitopsError`.

An error carries three things, and the CLI's single error handler (``reconciler.cli``) maps them to output
and the exit-code table (``docs/exit-codes.md``):

- ``message``: what went wrong, naming the file, position or object (one line, no ``error:`` prefix);
- ``hint``: how to fix it (a flag that exists on the command, a file to edit), or ``""``;
- ``exit_code``: ``1`` (the command ran and the answer is "failed") or ``2`` (it could not do its work:
  a usage, config, source or backend error).

This module has no project imports, so every package can derive its exceptions from it.
"""

from __future__ import annotations

__all__ = ["KgitopsError", "NotFoundError", "UsageError"]


class KgitopsError(Exception):
    """Root of every kgitops error: ``message`` (str), ``hint`` (str, may be empty), ``exit_code`` (int).

    Subclasses set a class-level ``exit_code``; one instance may override it with the ``exit_code`` argument.
    ``str(error)`` is the message alone (``args[0]``, so a subclass may still rewrite ``args``).
    """

    exit_code: int = 2

    def __init__(self, message: str = "", hint: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """What went wrong, one line (``str(self)``)."""
        return str(self.args[0]) if self.args else ""


class UsageError(KgitopsError):
    """A bad flag, value or combination given by the user (exit code 2)."""

    exit_code = 2


class NotFoundError(KgitopsError):
    """A named object (job, task, approval, file) does not exist (exit code 1)."""

    exit_code = 1
