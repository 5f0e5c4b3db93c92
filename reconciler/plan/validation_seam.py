"""The one place where the reconciler calls the validator (``reconciler.validate``).

It turns the validator's per-file result into what the desired state needs: the valid objects, the objects an
error names (held), and an error for the file as a whole when objects cannot even be identified (held by
path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.model import ObjectRef, Resource
from reconciler.validate import FileResult, Finding, Options, check_cross_file, validate_file


@dataclass(frozen=True)
class Checked:
    path: str
    objects: tuple[Resource, ...] = ()
    held_refs: dict[ObjectRef, str] = field(default_factory=dict)
    file_error: str = ""
    # the validator's result, slimmed to what the cross-file rules read (its facts)
    raw: FileResult | None = field(default=None, compare=False, repr=False)


def _finding_ref(finding: Finding) -> ObjectRef | None:
    """The object an error holds; None for a finding about the file as a whole (a YAML syntax error)."""
    if not finding.kind or not finding.name:
        return None
    return ObjectRef.of(finding.kind, finding.name, finding.namespace or None)


def _describe(finding: Finding, path: str) -> str:
    """``path:line:column: RULE message`` (just ``path: …`` when the finding has no position)."""
    where = f"{finding.path or path}:{finding.line}:{finding.column}" if finding.line else path
    return f"{where}: {finding.rule + ' ' if finding.rule else ''}{finding.message}"


def check_file(path: str, data: bytes, options: Options | None) -> Checked:
    result = validate_file(path, data, options)
    return from_result(path, result)


def _slim(result: FileResult) -> FileResult:
    """Keep only what the cross-file check reads: the parsed node trees (kept for positions) would otherwise
    stay alive in the cache for every file of the source, several times the size of the objects themselves."""
    return dataclasses.replace(result, documents=[], objects=[])


def from_result(path: str, result: FileResult) -> Checked:
    """The desired state's view of one file's validation: its valid objects, and why each other is held."""
    held: dict[ObjectRef, str] = {}
    file_error = ""
    for finding in result.findings:
        if not finding.is_error:
            continue
        ref = _finding_ref(finding)
        if ref is None:
            file_error = file_error or _describe(finding, path)
        else:
            held.setdefault(ref, _describe(finding, path))
    identified = tuple(result.objects)
    if file_error:  # the file failed as a whole: what could be identified in it is held, nothing is desired
        for obj in identified:
            held.setdefault(obj.ref, file_error)
        return Checked(path, (), held, file_error, _slim(result))
    objects = tuple(o for o in identified if o.ref not in held)
    return Checked(path, objects, held, file_error, _slim(result))


def cross_file_errors_by_path(
    checked: Sequence[Checked], options: Options | None
) -> dict[str, dict[ObjectRef, str]]:
    """Errors of the cross-file rules, grouped by the file each is reported in."""
    held: dict[str, dict[ObjectRef, str]] = {}
    for finding in check_cross_file([c.raw for c in checked if c.raw is not None], options):
        if finding.is_error:
            ref = _finding_ref(finding)
            if ref is not None:
                held.setdefault(str(finding.path), {}).setdefault(ref, _describe(finding, ""))
    return held
