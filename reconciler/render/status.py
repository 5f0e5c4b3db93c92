"""``kgitops status`` as a table: one row per managed object, ages as ``45s``/``11m``/``3h``/``2d``."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.render.table import render_table
from reconciler.status.overview import Row

HEADERS = ("KIND", "NAMESPACE", "NAME", "SYNC", "PHASE", "REVISION", "AGE", "REASON")


def short_age(seconds: int | None) -> str:
    """``-`` (unknown), ``45s``, ``11m``, ``3h``, ``2d``: the largest whole unit, as kubectl shows ages."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


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
            short_age(r.age_seconds),
            r.reason,
        ]
        for r in rows
    ]
    return render_table(HEADERS, cells) + "\n"
