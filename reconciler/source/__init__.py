"""Sources of desired state. Each yields a ``Snapshot``: a revision and the manifest files at it."""

from reconciler.source.directory import DirectorySource
from reconciler.source.git import GitSource, looks_like_url
from reconciler.source.snapshot import FileProblem, Snapshot, SourceError, SourceFile

Source = DirectorySource | GitSource

__all__ = [
    "DirectorySource",
    "FileProblem",
    "GitSource",
    "Snapshot",
    "Source",
    "SourceError",
    "SourceFile",
    "looks_like_url",
]
