"""GitHub Actions workflow commands, so findings appear as annotations on the pull request's diff."""

from __future__ import annotations

from reconciler.output.text import summary
from reconciler.validate.findings import Finding, Severity
from reconciler.validate.result import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
