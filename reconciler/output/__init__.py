"""Rendering a validation Report: one module per format; ``render(report, fmt)`` picks one.

``text`` and ``github`` print one line per finding, so they can also be written as the findings come
(``STREAMED``, ``finding_line``): a run over many files then keeps none of them. ``json`` (one document with
the summary first) and ``junit`` (one test case per object) need the whole report.

Every text they print passes its untrusted parts (paths, messages) through ``reconciler.output.printable``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.validate.findings import Finding
    from reconciler.validate.result import Report

FORMATS = ("text", "json", "junit", "github")
STREAMED = ("text", "github")


def render(report: Report, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        from reconciler.output import json as out_json

        return out_json.render(report)
    if fmt == "junit":
        from reconciler.output import junit

        return junit.render(report)
    if fmt == "github":
        from reconciler.output import github

        return github.render(report)
    from reconciler.output import text

    return text.render(report, color=color)


def finding_line(f: Finding, fmt: str, color: bool = False) -> str:
    """One finding as a line of a ``STREAMED`` format (no newline)."""
    if fmt == "github":
        from reconciler.output import github

        return github.finding_line(f)
    from reconciler.output import text

    return text.finding_line(f, color=color)


__all__ = ["FORMATS", "STREAMED", "finding_line", "render"]
