"""JUnit XML for CI test reports: one test case per object (failed by its errors), one per file for
findings that belong to no object; warnings and notes go to the case's system-out. Names, paths and messages
are ``printable`` (XML 1.0 cannot even carry most control characters)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from reconciler.model import ObjectRef
from reconciler.output.printable import printable
from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Report


def _line(f: Finding) -> str:
    at = f"{f.path}:{f.line}:{f.column}" if f.line else f.path
    return printable(f"{at}: {f.severity.value} {f.rule} {f.message}")


def render(report: Report) -> str:
    by_object: dict[ObjectRef, list[Finding]] = defaultdict(list)
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        ref = f.ref
        if ref is not None:
            by_object[ref].append(f)
        else:
            by_file[f.path].append(f)
    cases: list[tuple[str, str, list[Finding]]] = []
    seen: set[ObjectRef] = set()
    for ref, place in report.objects:
        if ref in seen:
            continue
        seen.add(ref)
        cases.append((printable(place.path), printable(str(ref)), by_object.get(ref, [])))
    for path in report.files:
        if path in by_file or not any(p.path == path for _, p in report.objects):
            cases.append((printable(path), printable(f"file {path}"), by_file.get(path, [])))
    failures = sum(1 for _, _, fs in cases if any(f.severity is Severity.ERROR for f in fs))
    suites = ET.Element("testsuites", name="kgitops validate", tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="kgitops validate",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for classname, name, findings in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        others = [f for f in findings if f.severity is not Severity.ERROR]
        if errors:
            failure = ET.SubElement(
                case,
                "failure",
                message=printable(f"{len(errors)} error(s): {errors[0].message}"),
                type=errors[0].rule,
            )
            failure.text = "\n".join(_line(f) for f in errors)
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
