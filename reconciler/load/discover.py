"""Which files to validate: every .yaml/.yml under the given paths (sorted), ``-`` for stdin, with the
problems that make a file unreadable found here so one bad file never stops the others."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from reconciler.load.files import TOO_LARGE, FileReadError, read_bounded

SUFFIXES = (".yaml", ".yml")
STDIN = "-"
STDIN_LABEL = "<stdin>"


class PathNotFound(Exception):
    """A path given on the command line does not exist (a usage error, not a finding)."""


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    """A file to validate: the path shown to users, and why it cannot be read (rule id, message), if so."""

    path: str
    problem: tuple[str, str] | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN_LABEL


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: str) -> list[DiscoveredFile]:
    real_root = os.path.realpath(root)
    found: list[DiscoveredFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):  # .git, .github, editors' folders
                continue
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not _inside(target, real_root):
                    found.append(
                        DiscoveredFile(
                            full,
                            ("IO002", f"directory link leads outside {root} (to {target}); not followed"),
                        )
                    )
                continue  # inside the root: its files are visited where they really are
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if not name.endswith(SUFFIXES) or name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not _inside(target, real_root):
                    found.append(
                        DiscoveredFile(
                            full, ("IO002", f"symbolic link leads outside {root} (to {target}); not read")
                        )
                    )
                    continue
            found.append(DiscoveredFile(full))
    found.sort(key=lambda f: f.path)
    return found


def discover(paths: list[str]) -> list[DiscoveredFile]:
    """Files to validate, in the order given (directories expanded, sorted). Raises PathNotFound."""
    out: list[DiscoveredFile] = []
    for p in paths:
        if p == STDIN:
            out.append(DiscoveredFile(STDIN_LABEL))
        elif os.path.isdir(p):
            out.extend(_walk(p))
        elif os.path.lexists(p):
            out.append(DiscoveredFile(p))
        else:
            raise PathNotFound(p)
    return out


def read_source(source: DiscoveredFile, max_size: int) -> bytes | tuple[str, str]:
    """The file's bytes (at most ``max_size + 1`` of them), or (rule id, message) when it cannot be read."""
    if source.problem:
        return source.problem
    if source.is_stdin:
        return sys.stdin.buffer.read(max_size + 1)
    try:
        return read_bounded(source.path, max_size)
    except FileReadError as exc:
        hint = " (raise it with --max-file-size)" if exc.rule == TOO_LARGE else ""
        return exc.rule, exc.message + hint
