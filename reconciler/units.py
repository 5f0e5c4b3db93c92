"""Durations and sizes as people write them, parsed in one place for every command and the SDK.

- ``parse_duration``: ``600``, ``90s``, ``10m``, ``1h30m``, ``1.5h`` -> seconds (float). Units: ``h``, ``m``,
  ``s``; a bare number is seconds.
- ``parse_size``: ``5242880``, ``512KiB``, ``5MiB``, ``5M``, ``1G`` -> bytes (int). Units are binary
  (1 KiB = 1024 bytes), as ``--max-file-size`` has always read them.

Both raise ``reconciler.errors.UsageError`` with the examples that would have worked.
"""

from __future__ import annotations

import re

from reconciler.errors import UsageError

__all__ = ["parse_duration", "parse_size"]

# patterns, compiled on first use (re's own cache), not at import: most commands parse no duration or size
_DURATION_PART = r"(\d+(?:\.\d+)?)([hms])"
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_SIZE = r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$"
_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_duration(value: str | float | int) -> float:
    """Seconds from ``600``, ``90s``, ``10m``, ``1h30m`` (a number is taken as seconds as it is)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(_DURATION_PART, text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"{value!r} is not a duration; use seconds or units, e.g. 600, 90s, 10m, 1h30m")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_size(value: str | int) -> int:
    """Bytes from ``1048576``, ``512KiB``, ``5MiB``, ``5M`` (binary units)."""
    if isinstance(value, int):
        return value
    m = re.match(_SIZE, value, re.IGNORECASE)
    if not m:
        raise UsageError(f"{value!r} is not a size (examples: 1048576, 512KiB, 5MiB)")
    return int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").upper()[:1]]
