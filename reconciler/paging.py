"""Paging a job's task views (``task list --job``), and the checks of the paging arguments: pure functions.

A marker is an opaque token for "after this task" (its name, or its alias for a task never created), so a
page continues correctly even when a task before it was deleted meanwhile. Jobs and the namespace's
KusciaTasks are paged by the backend itself (``Backend.list_jobs``, ``Backend.list_tasks``,
``reconciler.backends.pages``), with markers of the same kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.backends.pages import MAX_LIMIT, NAME_MARKER, InvalidMarker, name_marker
from reconciler.backends.pages import decode_marker as decode_payload
from reconciler.jobops import InvalidValue

if TYPE_CHECKING:  # the task views: loaded by the task commands that page them, not by `job list`
    from reconciler.views import TaskInfo, TaskPage

DEFAULT_MAX_KEYS = 50
MAX_MAX_KEYS = MAX_LIMIT


def encode_marker(name: str) -> str:
    """An opaque page marker: the name the next page starts after."""
    return name_marker(name)


def decode_marker(marker: str) -> str:
    """The name a marker continues after; InvalidValue (a usage error) for anything kgitops did not print."""
    try:
        return decode_payload(marker, NAME_MARKER)
    except InvalidMarker as exc:
        raise InvalidValue(str(exc)) from None


def check_max_keys(max_keys: int) -> int:
    if not isinstance(max_keys, int) or max_keys < 1 or max_keys > MAX_MAX_KEYS:
        raise InvalidValue(f"max_keys must be between 1 and {MAX_MAX_KEYS}, not {max_keys!r}")
    return max_keys


def parse_task_states(status: Iterable[str] | str | None) -> set[str]:
    """Task phases given by a user, any case → our spelling; an unknown one is an error listing them all."""
    from reconciler.views import TaskState

    wanted = {s.strip().lower() for s in ([status] if isinstance(status, str) else status or ()) if s.strip()}
    known = {s.value.lower(): s.value for s in TaskState}
    for w in sorted(wanted):
        if w not in known:
            raise InvalidValue(
                f"unknown task phase `{w}`; use one of: {', '.join(s.value for s in TaskState)}"
            )
    return {known[w] for w in wanted}


def page_tasks(
    infos: list[TaskInfo], states: set[str], max_keys: int, marker: str | None, job: str | None = None
) -> TaskPage:
    """A page of task views in the order given. ``job``: the tasks are one job's, in spec order, so the marker
    is a position in it; without: they are in name order (as ``task list`` paged every task before
    ``Backend.list_tasks``)."""
    from reconciler.views import TaskPage

    max_keys = check_max_keys(max_keys)
    after = decode_marker(marker) if marker else None
    if after is not None:
        if job:
            keys = [t.name or t.alias for t in infos]
            if after not in keys:
                raise InvalidValue(
                    f"marker points at a task that job {job} no longer has; list again without --marker"
                )
            infos = infos[keys.index(after) + 1 :]
        else:
            infos = [t for t in infos if t.name > after]
    items: list[TaskInfo] = []
    for t in infos:
        if states and t.phase.value not in states:
            continue
        if len(items) == max_keys:
            return TaskPage(items, encode_marker(items[-1].name or items[-1].alias))
        items.append(t)
    return TaskPage(items, None)
