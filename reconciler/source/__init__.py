"""Sources of desired state. Each implements ``Source`` and yields a ``Snapshot``: a revision and the
manifest files at it (and, for Git, the ``GitHistory`` behind them)."""

from reconciler.source.directory import DirectorySource
from reconciler.source.git import GitSource, looks_like_url
from reconciler.source.snapshot import (
    FileChanges,
    FileProblem,
    GitHistory,
    Snapshot,
    Source,
    SourceError,
    SourceFile,
)

__all__ = [
    "DirectorySource",
    "FileChanges",
    "FileProblem",
    "GitHistory",
    "GitSource",
    "Snapshot",
    "Source",
    "SourceError",
    "SourceFile",
    "looks_like_url",
]
