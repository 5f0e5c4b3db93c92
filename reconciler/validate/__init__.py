"""Manifest validation: CRD schema, unknown fields, metadata, task graph, references, cross-file rules.

Public API (used by the CLI and by the GitOps sync, which reads files from Git blobs):

- ``validate_file(path, data, options) -> FileResult``: one file's bytes; pure.
- ``check_cross_file(results, options) -> list[Finding]``: duplicates, taskIDs across jobs, AppImage
  references.
- ``validate_paths(paths, options, jobs=1) -> Report``: discovery + both of the above, for the command line.
- ``apply_defaults(resource) -> Resource``: the effective object with the CRD defaults.
"""

from reconciler.load.discover import PathNotFound
from reconciler.validate.crossfile import check_cross_file
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
)
from reconciler.validate.run import validate_paths

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "RULES",
    "DocumentInfo",
    "Facts",
    "FileResult",
    "Finding",
    "Options",
    "PathNotFound",
    "Place",
    "Report",
    "Rule",
    "Severity",
    "apply_defaults",
    "check_cross_file",
    "validate_file",
    "validate_paths",
]
