"""The one place where the reconciler calls the validator (``reconciler.validate``).

It turns the validator's per-file result into what the desired state needs: the valid objects, the objects an
error names (held), and an error for the file as a whole when objects cannot even be identified (held by
path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import ObjectRef, Resource
from reconciler.validate import Options, check_cross_file, validate_file


@dataclass(frozen=True)
class Checked:
    path: str
    objects: tuple[Resource, ...] = ()
    held_refs: dict[ObjectRef, str] = field(default_factory=dict)
    file_error: str = ""
    raw: Any = field(default=None, compare=False, repr=False)  # the validator's FileResult


def _finding_ref(finding: Any) -> ObjectRef | None:
    kind = getattr(finding, "kind", "") or ""
    name = getattr(finding, "name", "") or ""
    if not kind or not name:
        return None
    return ObjectRef.of(str(kind), str(name), getattr(finding, "namespace", None) or None)


def _is_error(finding: Any) -> bool:
    return str(getattr(finding, "severity", "error")).lower().endswith("error")


def _describe(finding: Any, path: str) -> str:
    line = getattr(finding, "line", 0) or 0
    col = getattr(finding, "column", 0) or 0
    rule = getattr(finding, "rule", "") or ""
    where = f"{getattr(finding, 'path', '') or path}:{line}:{col}" if line else path
    return f"{where}: {rule + ' ' if rule else ''}{getattr(finding, 'message', finding)}"


def check_file(path: str, data: bytes, options: Options | None) -> Checked:
    result = validate_file(path, data, options)
    return from_result(path, result)


def _slim(result: Any) -> Any:
    """Keep only what the cross-file check reads: the parsed node trees (kept for positions) would otherwise
    stay alive in the cache for every file of the source, several times the size of the objects themselves."""
    try:
        return dataclasses.replace(result, documents=[], objects=[])
    except (TypeError, ValueError):
        return result


def from_result(path: str, result: Any) -> Checked:
    held: dict[ObjectRef, str] = {}
    file_error = ""
    for finding in getattr(result, "findings", ()):
        if not _is_error(finding):
            continue
        ref = _finding_ref(finding)
        if ref is None:
            file_error = file_error or _describe(finding, path)
        else:
            held.setdefault(ref, _describe(finding, path))
    identified = tuple(getattr(result, "objects", ()))
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
    for finding in check_cross_file([c.raw for c in checked], options):
        if _is_error(finding):
            ref = _finding_ref(finding)
            if ref is not None:
                held.setdefault(str(finding.path), {}).setdefault(ref, _describe(finding, ""))
    return held
