"""GitHub Actions workflow commands, so findings appear as annotations on the pull request's diff."""

from __future__ import annotations

from reconciler.output.printable import printable
from reconciler.output.text import summary
from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _data(text: str) -> str:
    """A command's data: ``printable`` (no line break can end the command), then ``%`` escaped as the runner
    reads it (``%25``; ``%0D``/``%0A`` for a line break, of which none is left)."""
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def finding_line(f: Finding) -> str:
    """One finding as one workflow command (``::error file=…,line=…,col=…,title=RULE::message``)."""
    props = [f"file={_prop(f.path)}"]
    if f.line:
        props += [f"line={f.line}", f"col={f.column}"]
    props.append(f"title={_prop(f.rule)}")
    return f"::{_COMMAND[f.severity]} {','.join(props)}::{_data(f.message)}"


def render(report: Report) -> str:
    lines = [finding_line(f) for f in report.findings]
    lines.append(summary(report.totals()))
    return "\n".join(lines) + "\n"
