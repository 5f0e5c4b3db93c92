"""The one hand-off between a source and everything downstream: a revision and the manifest files at it.

Each file carries a content digest equal to its Git blob id (for a directory source too), so a cache of parse
results keyed by digest is shared by both source kinds and survives from one revision to the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

MANIFEST_SUFFIXES = (".yaml", ".yml")


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
    """A file that cannot be used (unreadable, a symlink leaving the root); its objects are held."""

    path: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    source_id: str
    revision: str
    files: tuple[SourceFile, ...]
    problems: tuple[FileProblem, ...] = ()


def content_revision(entries: list[tuple[str, str]]) -> str:
    """The revision of a directory: a digest of its (path, blob id) pairs, stable across runs and machines."""
    h = hashlib.sha256()
    for path, digest in sorted(entries):
        h.update(path.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(digest.encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def is_manifest_name(name: str) -> bool:
    return name.endswith(MANIFEST_SUFFIXES) and not name.startswith(".")
