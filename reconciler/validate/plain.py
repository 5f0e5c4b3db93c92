"""One file's findings and cross-file facts as plain values (tuples and lists of str and int), the form they
take to cross a process boundary (``--workers``) and to be kept in the result cache (JSON). Plain tuples
pickle several times faster than the dataclasses and named tuples they stand for; converting back gives
objects equal field for field to the originals, so nothing printed from them can differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.model import ObjectRef
from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Facts, Place

# Facts: (kind, namespace, name, line, column, taskIDs, images), each place (value, line, column); the path
# is the file's, the place's value the object's name.
PlainPlace = tuple[str, int, int]
PlainFacts = tuple[str, str, str, int, int, tuple[PlainPlace, ...], tuple[PlainPlace, ...]]


def plain_facts(facts: Facts) -> PlainFacts:
    ref, place = facts.ref, facts.place
    return (
        ref.kind,
        ref.namespace,
        ref.name,
        place.line,
        place.column,
        tuple((p.value, p.line, p.column) for p in facts.task_ids),
        tuple((p.value, p.line, p.column) for p in facts.app_images),
    )


def facts_of(path: str, plain: Sequence[Any]) -> Facts:
    """The ``Facts`` of ``plain_facts`` (or of its JSON form, lists for tuples) for the file at ``path``."""
    kind, namespace, name, line, column, task_ids, images = plain
    return Facts(
        ObjectRef(kind, namespace, name),
        Place(name, path, line, column),
        tuple(Place(v, path, ln, col) for v, ln, col in task_ids),
        tuple(Place(v, path, ln, col) for v, ln, col in images),
    )


def plain_finding(finding: Finding, path: str) -> list[Any]:
    """[rule, severity, message, line, column, kind, namespace, name, involves, path]: the path is None
    when it is ``path`` (the file's own, as every finding of one file is); each involved object is
    [kind, namespace, name]."""
    f = finding
    return [
        f.rule,
        f.severity.value,
        f.message,
        f.line,
        f.column,
        f.kind,
        f.namespace,
        f.name,
        [[r.kind, r.namespace, r.name] for r in f.involves],
        None if f.path == path else f.path,
    ]


def finding_of(path: str, plain: Sequence[Any]) -> Finding:
    """The ``Finding`` of ``plain_finding`` for the file at ``path``. Raises ValueError, TypeError or
    KeyError when ``plain`` is not of that shape."""
    rule, severity, message, line, column, kind, namespace, name, involves, own = plain
    if not all(isinstance(v, str) for v in (rule, message, kind, namespace, name)):
        raise TypeError("a finding's text fields are strings")
    if not (isinstance(line, int) and isinstance(column, int)):
        raise TypeError("a finding's line and column are integers")
    return Finding(
        rule,
        Severity(severity),
        message,
        path if own is None else str(own),
        line,
        column,
        kind,
        namespace,
        name,
        tuple(ObjectRef(str(k), str(ns), str(n)) for k, ns, n in involves),
    )
