"""Closest-name hints for typos ("did you mean `dependencies`?")."""

from __future__ import annotations

from collections.abc import Iterable


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` was most likely meant to be, or None when nothing is close."""
    pool = [c for c in candidates if c != name]
    if not pool:
        return None
    wanted = _norm(name)
    for c in pool:  # domain_id -> domainID, taskId -> taskID
        if _norm(c) == wanted:
            return c
    import difflib  # only when a finding needs a hint: not at every start-up

    by_norm = {_norm(c): c for c in pool}
    match = difflib.get_close_matches(wanted, list(by_norm), n=1, cutoff=0.7)
    return by_norm[match[0]] if match else None
