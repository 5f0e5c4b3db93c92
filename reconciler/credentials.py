"""Secrets kgitops holds for others (a webhook's shared secret, a forge's API token): where they come from.

A secret is read from, in this order, the config value itself, an environment variable named in the config,
or a file named in the config (its content, trailing newline removed). The value never reaches a log line, a
status file or an error message: errors name the variable or the file, never the content.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class CredentialError(Exception):
    """A secret that was asked for could not be read; the message names where it was looked for."""


@dataclass(frozen=True)
class SecretSource:
    """Where one secret lives: ``value`` (inline), ``env`` (a variable name) or ``file`` (a path).

    ``what`` names the secret in messages, e.g. ``webhook.secret``."""

    what: str
    value: str = ""
    env: str = ""
    file: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.value or self.env or self.file)

    def read(self) -> str:
        """The secret. Raises CredentialError naming the variable or file (never the value) when it is
        empty or unreadable."""
        if self.value:
            return self.value
        if self.env:
            got = os.environ.get(self.env, "")
            if not got:
                raise CredentialError(f"{self.what}: the environment variable {self.env} is not set or empty")
            return got
        if self.file:
            try:
                got = Path(os.path.expanduser(self.file)).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "not UTF-8 text"
                raise CredentialError(f"{self.what}: cannot read the file {self.file} ({reason})") from None
            if not got:
                raise CredentialError(f"{self.what}: the file {self.file} is empty")
            return got
        raise CredentialError(f"{self.what}: no secret configured (set it inline, by env var or by file)")

    def __repr__(self) -> str:  # never the value, even in a traceback or a debugger
        return f"SecretSource(what={self.what!r}, env={self.env!r}, file={self.file!r})"
