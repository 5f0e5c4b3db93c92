"""Paging and filters as pure functions: markers, boundaries, a job's tasks in spec order."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.backends.pages import PageRequest
from reconciler.jobops import InvalidArgument
from reconciler.paging import decode_marker, encode_marker, page_tasks, parse_task_states
from reconciler.views import TaskInfo, TaskState


def test_markers_round_trip_any_name_and_are_opaque() -> None:
    for name in ["job-a", "x.y-z", "数据", ""]:
        assert decode_marker(encode_marker(name)) == name
    assert "job-a" not in encode_marker("job-a")
    for bad in ["", "!!!", "bTI6am9i", "job-a"]:
        with pytest.raises(InvalidArgument, match="is not one kgitops printed"):
            decode_marker(bad)


def test_no_jobs_is_an_empty_last_page(tmp_path: Path) -> None:
    with LocalBackend(tmp_path / "state", autostart=False) as backend:
        page = backend.list_jobs(PageRequest("default", 10))
    assert page.items == [] and page.next_marker is None


def _tasks(*specs: tuple[str, str]) -> list[TaskInfo]:
    return [TaskInfo(name=n, job="j", alias=n.split("-")[-1], phase=TaskState(p)) for n, p in specs]


def test_a_jobs_tasks_page_by_position_and_a_vanished_marker_is_refused() -> None:
    tasks = _tasks(("j-b", "Succeeded"), ("j-a", "Running"), ("", "NotCreated"))
    tasks[2].alias = "c"
    first = page_tasks(tasks, set(), 2, None, job="j")
    assert [t.alias for t in first.items] == ["b", "a"] and first.next_marker
    rest = page_tasks(tasks, set(), 2, first.next_marker, job="j")
    assert [t.alias for t in rest.items] == ["c"] and rest.next_marker is None
    with pytest.raises(InvalidArgument, match="no longer has; list again without --marker"):
        page_tasks(tasks[2:], set(), 2, first.next_marker, job="j")


def test_task_states_in_any_case() -> None:
    assert parse_task_states(["blocked", "NOTCREATED"]) == {"Blocked", "NotCreated"}
    assert parse_task_states(None) == set()
    with pytest.raises(InvalidArgument, match="unknown task phase `waiting`; use one of: Pending, Running"):
        parse_task_states("waiting")
