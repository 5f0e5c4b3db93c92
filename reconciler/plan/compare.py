"""Semantic comparison of a desired spec with a live one.

Backends fill fields in (CRD defaults, generated taskIDs, status); those are not changes. A field present only
on the live side counts only when it is neither a generated identity nor equal to its CRD default; a field
present only on the desired side counts unless it spells out the default the live object already has.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.phases import DEFAULT_MAX_PARALLELISM, ScheduleMode
from reconciler.plan.model import MISSING, FieldChange

# Field name -> CRD default, for the spec fields of KusciaJob / KusciaTask / AppImage that have one.
DEFAULTS: dict[str, Any] = {
    "scheduleMode": str(ScheduleMode.STRICT),
    "maxParallelism": DEFAULT_MAX_PARALLELISM,
    "tolerable": False,
    "priority": 0,
}
# Filled in by the backend when the manifest leaves them out (the initiator generates a task's taskID).
GENERATED = frozenset({"taskID"})


def _default_equal(key: str, value: Any) -> bool:
    return key in DEFAULTS and value == DEFAULTS[key]


def spec_changes(desired: Any, live: Any, path: str = "spec") -> list[FieldChange]:
    out: list[FieldChange] = []
    _compare(desired, live, path, "", out)
    return out


def _compare(desired: Any, live: Any, path: str, key: str, out: list[FieldChange]) -> None:
    if isinstance(desired, dict) and isinstance(live, dict):
        for k, v in desired.items():
            sub = f"{path}.{k}"
            if k not in live:
                if v is None or _default_equal(k, v) or v == {} or v == []:
                    continue
                out.append(FieldChange(sub, MISSING, v))
            else:
                _compare(v, live[k], sub, k, out)
        for k, v in live.items():
            if k in desired or k in GENERATED or v is None or _default_equal(k, v) or v == {} or v == []:
                continue
            out.append(FieldChange(f"{path}.{k}", v, MISSING))
        return
    if isinstance(desired, list) and isinstance(live, list):
        for i in range(max(len(desired), len(live))):
            sub = f"{path}[{i}]"
            if i >= len(live):
                out.append(FieldChange(sub, MISSING, desired[i]))
            elif i >= len(desired):
                out.append(FieldChange(sub, live[i], MISSING))
            else:
                _compare(desired[i], live[i], sub, key, out)
        return
    if desired != live and not (
        isinstance(desired, bool) is isinstance(live, bool) and _num_eq(desired, live)
    ):
        out.append(FieldChange(path, live, desired))


def _num_eq(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float) and a == b


def metadata_changes(desired: dict[str, str], live: dict[str, str], path: str) -> list[FieldChange]:
    """Keys the manifest sets that the live object lacks or holds with another value (removals are not
    tracked: kgitops keeps no last-applied copy, and the backend's own keys must not count)."""
    out = []
    for k, v in sorted(desired.items()):
        if live.get(k) != v:
            out.append(FieldChange(f"{path}.{k}", live.get(k, MISSING), v))
    return out
