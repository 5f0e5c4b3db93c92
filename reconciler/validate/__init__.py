"""Manifest validation: CRD schema, unknown fields, metadata, task graph, references, cross-file rules.

Public API (used by the CLI and by the GitOps sync, which reads files from Git blobs):

- ``validate_file(path, data, options) -> FileResult``: one file's bytes; pure.
- ``check_cross_file(results, options) -> list[Finding]``: duplicates, taskIDs across jobs, AppImage
  references.
- ``validate_paths(paths, options, jobs=1) -> Report``: discovery + both of the above, for the command line;
  ``stream_paths``/``Validation``: the same, each file's findings handed on as soon as they are final.
- ``apply_defaults(resource) -> Resource``: the effective object with the CRD defaults.
"""

from reconciler.load.discover import Discovery, PathNotFound, discover
from reconciler.validate.crossfile import CrossFileIndex, check_cross_file
from reconciler.validate.defaults import apply_defaults
from reconciler.validate.filecheck import validate_file
from reconciler.validate.findings import RULES, Finding, Rule, Severity
from reconciler.validate.result import (
    DEFAULT_MAX_FILE_SIZE,
    DocumentInfo,
    Facts,
    FileResult,
    Options,
    Place,
    Report,
    Totals,
)
from reconciler.validate.run import FileFindings, Validation, stream_paths, validate_paths

__all__ = [
    "CrossFileIndex",
    "DEFAULT_MAX_FILE_SIZE",
    "Discovery",
    "RULES",
    "DocumentInfo",
    "Facts",
    "FileFindings",
    "FileResult",
    "Finding",
    "Options",
    "PathNotFound",
    "Place",
    "Report",
    "Rule",
    "Severity",
    "Totals",
    "Validation",
    "apply_defaults",
    "check_cross_file",
    "discover",
    "validate_file",
    "stream_paths",
    "validate_paths",
]
