"""``path:line:col: severity RULE message`` lines, then a summary (colour only on a terminal)."""

from __future__ import annotations

from reconciler.output.printable import printable
from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Report, Totals

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.NOTE: "\033[36m"}
_RESET, _BOLD = "\033[0m", "\033[1m"


def where(f: Finding) -> str:
    """``path:line:column`` (just the path when the finding has no position), printable."""
    if f.line:
        return f"{printable(f.path)}:{f.line}:{f.column}"
    return printable(f.path)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary(totals: Totals) -> str:
    """``valid: 3 files, 4 objects; 0 errors, 1 warning`` (notes only when there are some)."""
    parts = [_plural(totals.errors, "error"), _plural(totals.warnings, "warning")]
    if totals.notes:
        parts.append(_plural(totals.notes, "note"))
    verdict = "invalid" if totals.errors else "valid"
    counts = f"{_plural(totals.files, 'file')}, {_plural(totals.objects, 'object')}"
    return f"{verdict}: {counts}; " + ", ".join(parts)


def finding_line(f: Finding, color: bool = False) -> str:
    """One finding as one line (no newline): the path and the message ``printable``."""
    sev = f.severity.value
    message = printable(f.message)
    if color:
        return (
            f"{_BOLD}{where(f)}:{_RESET} {_COLORS[f.severity]}{sev}{_RESET} {_BOLD}{f.rule}{_RESET} "
            f"{message}"
        )
    return f"{where(f)}: {sev} {f.rule} {message}"


def render(report: Report, color: bool = False) -> str:
    lines = [finding_line(f, color) for f in report.findings]
    lines.append(summary(report.totals()))
    return "\n".join(lines) + "\n"
