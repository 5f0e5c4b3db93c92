"""Which files to validate: every .yaml/.yml under the given paths (sorted), ``-`` for stdin, with the
problems that make a file unreadable found here so one bad file never stops the others."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from reconciler.load.entries import MANIFEST_SUFFIXES, Entry, EntryProblem, judge, unreadable
from reconciler.load.files import TOO_LARGE, FileReadError, read_bounded

SUFFIXES = MANIFEST_SUFFIXES
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


def _walk(root: str) -> Iterator[DiscoveredFile]:
    """The files under ``root`` in the order of their sorted paths, found as they are yielded.

    Each directory is listed when it is reached; its entries are sorted as their paths sort, a directory by
    its name and a ``/`` (every path below it sorts there), and kept as one string until yielded: a directory
    of 20,000 files costs a few hundred KiB, not a list of objects. Directories and files whose name starts
    with ``.`` (.git, .github, editors' files) are skipped. Each entry is judged by
    ``reconciler.load.entries.judge``, as the sources judge it: what a sync would hold (a link leading
    outside ``root``, a directory named like a manifest, a broken link, a directory that cannot be listed) is
    yielded with its problem."""
    real_root = os.path.realpath(root)
    listing, problems = _listing(root, real_root)
    if listing is None:
        yield DiscoveredFile(root, _pair(problems[""]))
        return
    stack = [(root, listing, 0, problems)]  # (directory, its listing, where the next entry starts, problems)
    while stack:
        dirpath, listing, start, problems = stack[-1]
        end = listing.find(_SEP, start)
        if end < 0:
            stack.pop()
            continue
        stack[-1] = (dirpath, listing, end + 1, problems)
        mark, name = listing[end - 1], listing[start : end - 1]
        full = os.path.join(dirpath, name.rstrip(os.sep))
        if mark == _DIR:
            sub, sub_problems = _listing(full, real_root)
            if sub is None:
                yield DiscoveredFile(full, _pair(sub_problems[""]))
            else:
                stack.append((full, sub, 0, sub_problems))
        elif mark == _FILE:
            yield DiscoveredFile(full)
        else:
            yield DiscoveredFile(full, _pair(problems[name]))


# A listing is one string: each entry's sort key (a directory's name ends in os.sep), a mark, then _SEP.
_SEP = "\0"
_DIR, _FILE, _PROBLEM = "d", "f", "p"


def _pair(problem: EntryProblem) -> tuple[str, str]:
    return problem.rule, problem.message


def _listing(dirpath: str, real_root: str) -> tuple[str | None, dict[str, EntryProblem]]:
    """The entries of ``dirpath`` to visit, sorted, as one string (see ``_walk``), and the problems of the
    entries marked ``_PROBLEM``, by name; (None, {"": why}) when the directory cannot be listed."""
    entries: list[str] = []
    problems: dict[str, EntryProblem] = {}
    try:
        with os.scandir(dirpath) as it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                    is_link = entry.is_symlink()
                except OSError:
                    is_dir = is_link = False
                what, problem = judge(entry.path, name, is_dir, is_link, real_root)
                if problem is not None:
                    problems[name] = problem
                    entries.append(name + _PROBLEM)
                if what is Entry.DIRECTORY:
                    entries.append(name + os.sep + _DIR)
                elif what is Entry.FILE:
                    entries.append(name + _FILE)
    except OSError as exc:
        return None, {"": unreadable(exc.strerror or str(exc))}
    entries.sort(key=lambda e: e[:-1])
    return "".join(e + _SEP for e in entries), problems


class Discovery:
    """The files to validate under ``paths``, in the order given (directories expanded, sorted), found as
    they are iterated, so a run over any number of files never holds a list of them. Raises PathNotFound at
    once for a path that does not exist."""

    def __init__(self, paths: list[str]) -> None:
        for p in paths:
            if p != STDIN and not os.path.isdir(p) and not os.path.lexists(p):
                raise PathNotFound(p)
        self.paths = list(paths)

    def __iter__(self) -> Iterator[DiscoveredFile]:
        for p in self.paths:
            if p == STDIN:
                yield DiscoveredFile(STDIN_LABEL)
            elif os.path.isdir(p):
                yield from _walk(p)
            else:
                yield DiscoveredFile(p)

    @property
    def may_repeat(self) -> bool:
        """Whether a path may come twice: only when one argument is, or starts with, another (a walk of
        ``root`` yields paths that start with ``root``, and never one twice). O(n log n): in sorted order,
        whatever lies between a prefix and a path it starts also starts with it, so neighbours suffice."""
        shown = sorted(STDIN_LABEL if p == STDIN else p for p in self.paths)
        return any(b.startswith(a) for a, b in pairwise(shown))


    def unique(self) -> list[DiscoveredFile]:
        """The files, each once: a file named twice, or named and also inside a named directory, is checked
        where it first comes (its path as first shown). Paths are compared absolute and normalised
        (``./a.yaml`` is ``a.yaml``); links are not resolved, as the walk does not follow them."""
        seen: set[str] = set()
        files: list[DiscoveredFile] = []
        for f in self:
            key = f.path if f.is_stdin else os.path.normpath(os.path.abspath(f.path))
            if key not in seen:
                seen.add(key)
                files.append(f)
        return files


def discover(paths: list[str]) -> list[DiscoveredFile]:
    """Files to validate, in the order given (directories expanded, sorted), each once
    (``Discovery.unique``). Raises PathNotFound."""
    return Discovery(paths).unique()


def read_source(source: DiscoveredFile, max_size: int) -> bytes | tuple[str, str]:
    """The file's bytes (at most ``max_size + 1`` of them), or (rule id, message) when it cannot be read."""
    if source.problem:
        return source.problem
    if source.is_stdin:
        data = sys.stdin.buffer.read(max_size + 1)
        if len(data) > max_size:
            return TOO_LARGE, (
                f"standard input is more than {max_size} bytes, above the limit of {max_size} "
                "(raise it with --max-file-size)"
            )
        return data
    try:
        return read_bounded(source.path, max_size)
    except FileReadError as exc:
        hint = " (raise it with --max-file-size)" if exc.rule == TOO_LARGE else ""
        return exc.rule, exc.message + hint
