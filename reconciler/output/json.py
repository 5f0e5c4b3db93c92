"""The stable JSON shape (version 1), documented in docs/validate.md::

{"version": 1, "summary": {"files": 2, "objects": 3, "errors": 1, "warnings": 0, "notes": 0, "valid":
false}, "findings": [{"file": "...", "line": 12, "column": 7, "severity": "error", "rule": "KJ004",
"message": "...", "kind": "KusciaJob", "namespace": "cross-domain", "name": "..."}]}

``line``/``column`` are 1-based, 0 when the finding is about the whole file; kind/namespace/name are "" when
the finding belongs to no object. New keys may be added; existing ones keep their meaning."""

from __future__ import annotations

import json
from typing import Any

from reconciler.validate.findings import Severity
from reconciler.validate.result import Report

SHAPE_VERSION = 1


def as_data(report: Report) -> dict[str, Any]:
    return {
        "version": SHAPE_VERSION,
        "summary": {
            "files": len(report.files),
            "objects": len(report.objects),
            "errors": report.errors,
            "warnings": report.warnings,
            "notes": report.count(Severity.NOTE),
            "valid": report.errors == 0,
        },
        "findings": [
            {
                "file": f.path,
                "line": f.line,
                "column": f.column,
                "severity": f.severity.value,
                "rule": f.rule,
                "message": f.message,
                "kind": f.kind,
                "namespace": f.namespace,
                "name": f.name,
            }
            for f in report.findings
        ],
    }


def render(report: Report) -> str:
    return json.dumps(as_data(report), indent=2, ensure_ascii=False) + "\n"
