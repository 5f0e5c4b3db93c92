"""``kgitops status`` as a table: one row per managed object, ages as kubectl shows them (``45s``)."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.render.table import format_seconds, render_table
from reconciler.status.overview import Row

HEADERS = ("KIND", "NAMESPACE", "NAME", "SYNC", "PHASE", "REVISION", "AGE", "REASON")


def status_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned table (display width, so CJK names line up), or ``no managed objects``."""
    if not rows:
        return "no managed objects\n"
    cells = [
        [
            r.kind,
            r.namespace or "-",
            r.name,
            r.sync,
            r.phase or "-",
            r.revision or "-",
            "-" if r.age_seconds is None else format_seconds(r.age_seconds),
            r.reason,
        ]
        for r in rows
    ]
    return render_table(HEADERS, cells) + "\n"
