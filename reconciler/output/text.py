"""``path:line:col: severity RULE message`` lines, then a summary (colour only on a terminal)."""

from __future__ import annotations

from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Report

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.NOTE: "\033[36m"}
_RESET, _BOLD = "\033[0m", "\033[1m"


def where(f: Finding) -> str:
    if f.line:
        return f"{f.path}:{f.line}:{f.column}"
    return f.path


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary(report: Report) -> str:
    notes = report.count(Severity.NOTE)
    parts = [_plural(report.errors, "error"), _plural(report.warnings, "warning")]
    if notes:
        parts.append(_plural(notes, "note"))
    verdict = "invalid" if report.errors else "valid"
    return (
        f"{verdict}: {_plural(len(report.files), 'file')}, {_plural(len(report.objects), 'object')}; "
        + ", ".join(parts)
    )


def render(report: Report, color: bool = False) -> str:
    lines = []
    for f in report.findings:
        sev = f.severity.value
        if color:
            lines.append(
                f"{_BOLD}{where(f)}:{_RESET} {_COLORS[f.severity]}{sev}{_RESET} {_BOLD}{f.rule}{_RESET} "
                f"{f.message}"
            )
        else:
            lines.append(f"{where(f)}: {sev} {f.rule} {f.message}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"
