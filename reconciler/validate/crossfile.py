"""Rules that need every file at once: duplicate objects, taskIDs shared across jobs, missing AppImages."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import ObjectRef
from reconciler.validate.findings import RULES, Finding
from reconciler.validate.names import dns1123_subdomain
from reconciler.validate.result import Facts, FileResult, Options, Place


def _finding(
    rule: str, message: str, place: Place, ref: ObjectRef, involves: tuple[ObjectRef, ...] = ()
) -> Finding:
    return Finding(
        rule,
        RULES[rule].severity,
        message,
        place.path,
        place.line,
        place.column,
        ref.kind,
        ref.namespace,
        ref.name,
        involves,
    )


def _at(place: Place) -> str:
    return f"{place.path}:{place.line}:{place.column}" if place.line else place.path


def check_facts(facts: Iterable[Facts]) -> list[Finding]:
    """The cross-file rules over the facts of every object in the input (in input order)."""
    out: list[Finding] = []
    first: dict[ObjectRef, Place] = {}
    task_names: dict[tuple[str, str], tuple[Place, ObjectRef]] = {}
    images_defined: set[str] = set()
    all_facts = list(facts)
    for f in all_facts:
        if f.ref in first:
            out.append(
                _finding("XF001", f"{f.ref} is defined twice: also at {_at(first[f.ref])}", f.place, f.ref)
            )
        else:
            first[f.ref] = f.place
        if f.ref.kind == "AppImage":
            images_defined.add(f.ref.name)
    for f in all_facts:
        claims: list[Place] = list(f.task_ids) if f.ref.kind == "KusciaJob" else []
        if f.ref.kind == "KusciaTask":
            claims = [f.place]
        for place in claims:
            key = (f.ref.namespace, place.value)
            prior = task_names.get(key)
            if prior is None:
                task_names[key] = (place, f.ref)
            elif prior[1] != f.ref:
                out.append(
                    _finding(
                        "XF002",
                        f"KusciaTask name {place.value!r} in namespace {f.ref.namespace!r} "
                        f"is also claimed by {prior[1]} at {_at(prior[0])}; one of them would fail",
                        place,
                        f.ref,
                        (prior[1],),
                    )
                )
        for place in f.app_images:
            if place.value not in images_defined and dns1123_subdomain(place.value) is None:
                out.append(
                    _finding(
                        "XF003",
                        f"AppImage {place.value!r} is not defined in the input "
                        "(fine if the cluster already has it)",
                        place,
                        f.ref,
                    )
                )
    return out


def check_cross_file(results: list[FileResult], options: Options | object | None = None) -> list[Finding]:
    """Cross-file findings for a set of per-file results (one FileResult per file, in input order)."""
    return check_facts(f for r in results for f in r.facts)
