"""The one hand-off between a source and everything downstream: a revision and the manifest files at it
(``Snapshot``), and the interface every source implements (``Source``).

Each file carries a content digest equal to its Git blob id (for a directory source too), so a cache of parse
results keyed by digest is shared by both source kinds and survives from one revision to the next. A snapshot
of a Git source also carries its ``GitHistory``: readers that need more than the files (approvals ask who made
a record; status commits to a branch) take it from there, never by probing the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from reconciler.load.entries import MANIFEST_SUFFIXES, is_manifest_name

if TYPE_CHECKING:
    import pygit2


class SourceError(Exception):
    """The whole source cannot be read (missing path, unknown ref, failed fetch); the message says why."""


@dataclass(frozen=True)
class SourceFile:
    """A manifest file: its path relative to the source root, its blob id, and a way to read its bytes."""

    path: str
    digest: str
    reader: Callable[[], bytes] = field(compare=False, repr=False)

    def read(self) -> bytes:
        return self.reader()


@dataclass(frozen=True)
class FileProblem:
    """A file or entry that cannot be used (unreadable, a symlink leaving the root); its objects are held.
    ``message`` starts with the rule id, as validate reports the same entry (``IO001 a directory where …``;
    ``reconciler.load.entries``)."""

    path: str
    message: str


class GitCallbacks(Protocol):
    """Credentials for fetching and pushing (``reconciler.source.git.GitCredentials``)."""

    def callbacks(self) -> pygit2.RemoteCallbacks: ...


class GitHistory(Protocol):
    """The Git repository behind a source: ``repository``; ``subpath``, the source's folder in it ("" for the
    root; snapshot paths are relative to it); ``tracked_branch``, the branch read (short name; raises
    SourceError when the repository cannot be read); ``remote``: True when the repository is a local cache of
    a URL; ``credentials`` for fetch and push."""

    @property
    def repository(self) -> pygit2.Repository: ...
    @property
    def subpath(self) -> str: ...
    @property
    def tracked_branch(self) -> str: ...
    @property
    def remote(self) -> bool: ...
    @property
    def credentials(self) -> GitCallbacks: ...


@dataclass(frozen=True)
class Snapshot:
    """The manifest files of one revision (a Git commit id, or a directory's content digest), the files that
    cannot be used, and the Git history behind them (None for a directory)."""

    source_id: str
    revision: str
    files: tuple[SourceFile, ...]
    problems: tuple[FileProblem, ...] = ()
    history: GitHistory | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FileChanges:
    """The manifest files that differ between two revisions of a source (``Source.changed_files``):
    ``changed``, added or modified (with their new blob id), and ``deleted``, their paths."""

    revision: str
    changed: tuple[SourceFile, ...]
    deleted: tuple[str, ...]


class Source(Protocol):
    """Where desired state comes from: a directory (``DirectorySource``) or a Git repository (``GitSource``).

    ``source_id`` names the source in inventories and status; ``latest()`` brings the source up to date and
    returns its newest revision ("" when ``snapshot()`` always reads the newest, as a directory's does);
    ``snapshot(revision)`` reads the files at ``revision`` (None: the newest known); ``watch(on_change)``
    calls ``on_change`` from a background thread when the source changes and returns a function that stops
    watching, or None when the source cannot tell (then poll ``latest()``); ``history`` is the Git history,
    or None. ``changed_files(since, revision)`` lists the manifest files that differ between two revisions
without reading the others, or None when the source cannot tell for sure (then read a whole ``snapshot``).
``snapshot`` and ``latest`` raise SourceError when the source cannot be read."""

    @property
    def source_id(self) -> str: ...
    @property
    def history(self) -> GitHistory | None: ...
    def describe(self) -> str: ...
    def latest(self) -> str: ...
    def snapshot(self, revision: str | None = None) -> Snapshot: ...
    def changed_files(self, since: str, revision: str) -> FileChanges | None: ...
    def watch(self, on_change: Callable[[], None], quiet: float = 0.15) -> Callable[[], None] | None: ...


def content_revision(entries: list[tuple[str, str]]) -> str:
    """The revision of a directory: a digest of its (path, blob id) pairs, stable across runs and machines."""
    h = hashlib.sha256()
    for path, digest in sorted(entries):
        h.update(path.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(digest.encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


__all__ = [
    "MANIFEST_SUFFIXES",
    "FileChanges",
    "FileProblem",
    "GitCallbacks",
    "GitHistory",
    "Snapshot",
    "Source",
    "SourceError",
    "SourceFile",
    "content_revision",
    "is_manifest_name",
]
