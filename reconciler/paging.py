"""Filtering and paging job and task lists: pure functions of the objects a backend listed.

Pages are in name order and a marker is an opaque token for "after this name", so a page continues correctly
even when the job the marker names was deleted meanwhile (the Backend interface has no paging of its own).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from reconciler.jobops import InvalidValue
from reconciler.model import Resource
from reconciler.views import JobInfo, JobPage, TaskInfo, TaskPage, TaskState, job_info, job_phase_of

DEFAULT_MAX_KEYS = 50
MAX_MAX_KEYS = 1000
_MARKER_PREFIX = "m1:"


def encode_marker(name: str) -> str:
    """An opaque page marker: the name the next page starts after."""
    return base64.urlsafe_b64encode((_MARKER_PREFIX + name).encode()).decode().rstrip("=")


def decode_marker(marker: str) -> str:
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_MARKER_PREFIX):
        raise InvalidValue(
            f"marker `{marker}` is not one kgitops printed; pass the marker shown after the previous page"
        )
    return text[len(_MARKER_PREFIX) :]


def check_max_keys(max_keys: int) -> int:
    if not isinstance(max_keys, int) or max_keys < 1 or max_keys > MAX_MAX_KEYS:
        raise InvalidValue(f"max_keys must be between 1 and {MAX_MAX_KEYS}, not {max_keys!r}")
    return max_keys


@dataclass(frozen=True)
class JobFilter:
    """What ``job list`` keeps (labels are filtered by the backend)."""

    phases: frozenset[str] = frozenset()
    initiator: str = ""
    since: datetime | None = None  # updated after
    started_after: datetime | None = None

    def quick_match(self, job: Resource) -> bool:
        """The checks that need no view, so the view is built only for candidates."""
        if self.phases and job_phase_of(job) not in self.phases:
            return False
        return not self.initiator or str(job.spec.get("initiator") or "") == self.initiator

    def match(self, info: JobInfo) -> bool:
        if self.since and not (info.updated_time and info.updated_time > self.since):
            return False
        return not (self.started_after and not (info.start_time and info.start_time > self.started_after))


def page_jobs(jobs: Iterable[Resource], flt: JobFilter, max_keys: int, marker: str | None) -> JobPage:
    max_keys = check_max_keys(max_keys)
    after = decode_marker(marker) if marker else None
    selected: list[JobInfo] = []
    for job in sorted(jobs, key=lambda j: j.name):
        if (after is not None and job.name <= after) or not flt.quick_match(job):
            continue
        info = job_info(job)
        if not flt.match(info):
            continue
        if len(selected) == max_keys:
            return JobPage(selected, encode_marker(selected[-1].name))
        selected.append(info)
    return JobPage(selected, None)


def parse_task_states(status: Iterable[str] | str | None) -> set[str]:
    """Task phases given by a user, any case → our spelling; an unknown one is an error listing them all."""
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
    """A page of tasks. ``job``: the tasks are one job's, in spec order, so the marker is a position in it."""
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
