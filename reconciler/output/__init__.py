"""Rendering a validation Report: one module per format; ``render(report, fmt)`` picks one."""

from __future__ import annotations

from reconciler.validate.result import Report

FORMATS = ("text", "json", "junit", "github")


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


__all__ = ["FORMATS", "render"]
