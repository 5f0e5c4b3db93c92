"""Paging KusciaTasks in the embedded engine's store (``task list`` without ``--job``): every task once in
name order while tasks come and go, markers of an old page after its last task was deleted, the phase filter
with paging, pages equal to those of listing every task and paging it (what ``task list`` did before), the
query an index range, and "did you mean" from names alone."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from click.testing import CliRunner
from ops_fixtures import NS, put_job

from reconciler.backends.local import LocalBackend
from reconciler.backends.pages import (
    KUBERNETES_MARKER,
    InvalidMarker,
    TaskPageRequest,
    encode_marker,
    name_marker,
)
from reconciler.cli import main
from reconciler.engine import store_pages
from reconciler.model import ObjectRef, Resource
from reconciler.paging import page_tasks
from reconciler.sdk import Client, TaskNotFound
from reconciler.views import TaskInfo, TaskPage, task_info

PHASES = ["Running", "Succeeded", "Failed", "Pending", "", "Unknown"]  # "" and unknown ones show Pending


def put_task(backend: LocalBackend, name: str, phase: str = "Running") -> None:
    """A KusciaTask as Kuscia's job controller writes one (``phase`` "" leaves ``status.phase`` out)."""
    status: dict[str, Any] = {"startTime": "2026-01-02T03:05:00Z"}
    if phase:
        status["phase"] = phase
    task = Resource(
        kind="KusciaTask",
        name=name,
        namespace=NS,
        annotations={"kuscia.secretflow/job-id": "j", "kuscia.secretflow/task-alias": name.split("-")[-1]},
        spec={"initiator": "alice", "parties": [{"domainID": "alice", "appImageRef": "app"}]},
        status=status,
    )
    backend.store.create(task)


def walk(
    backend: LocalBackend, limit: int, phases: frozenset[str] = frozenset(), between: Any = None
) -> list[list[str]]:
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = backend.list_tasks(TaskPageRequest(NS, limit, marker, phases))
        pages.append([t.name for t in page.items])
        if page.next_marker is None:
            return pages
        marker = page.next_marker
        if between is not None:
            between(len(pages))


def test_every_task_once_in_name_order_while_tasks_are_created_and_deleted(backend: LocalBackend) -> None:
    for i in range(11):
        put_task(backend, f"t-{i:02d}")

    def churn(pages_so_far: int) -> None:
        if pages_so_far == 1:
            backend.delete(ObjectRef.of("KusciaTask", "t-03", NS))  # the page's last task: the marker's name
            backend.delete(ObjectRef.of("KusciaTask", "t-07", NS))  # ahead: never shown
            put_task(backend, "t-00a")  # behind the marker: not in this walk
            put_task(backend, "t-08a")  # ahead: shown in its place

    pages = walk(backend, 4, between=churn)
    expected = [f"t-{i:02d}" for i in range(11) if i != 7]
    expected.insert(expected.index("t-09"), "t-08a")
    assert pages == [expected[:4], expected[4:8], expected[8:]]


def test_a_marker_of_an_old_page_goes_on_after_its_task_was_deleted(
    cli_backend: LocalBackend, client: Client
) -> None:
    for name in ("t-a", "t-b", "t-c", "t-d"):
        put_task(cli_backend, name)
    first = client.list_task(max_keys=2)
    assert [t.name for t in first.items] == ["t-a", "t-b"] and first.next_marker
    cli_backend.delete(ObjectRef.of("KusciaTask", "t-b", NS))
    cli_backend.delete(ObjectRef.of("KusciaTask", "t-a", NS))
    again = CliRunner().invoke(main, ["task", "list", "-m", "2", "--marker", first.next_marker])
    assert again.exit_code == 0, again.output
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["NAME", "t-c", "t-d"]


def test_the_phase_filter_with_paging(backend: LocalBackend) -> None:
    for i in range(12):
        put_task(backend, f"t-{i:02d}", PHASES[i % len(PHASES)])
    running = walk(backend, 1, frozenset({"Running"}))
    assert running == [["t-00"], ["t-06"]]
    pending = walk(backend, 2, frozenset({"Pending"}))  # unset and unknown phases show as Pending
    assert pending == [["t-03", "t-04"], ["t-05", "t-09"], ["t-10", "t-11"]]
    ended = walk(backend, 3, frozenset({"Failed", "Succeeded"}))
    assert ended == [["t-01", "t-02", "t-07"], ["t-08"]]
    assert walk(backend, 3, frozenset({"Blocked", "NotCreated"})) == [[]]  # a job's uncreated tasks only


def _old_walk(infos: list[TaskInfo], states: set[str], limit: int) -> list[dict[str, Any]]:
    """``task list`` as it was: every task listed and viewed, then paged (``paging.page_tasks``)."""
    pages, marker = [], None
    while True:
        page = page_tasks(infos, states, limit, marker)
        pages.append(page.to_dict())
        if page.next_marker is None:
            return pages
        marker = page.next_marker


def test_pages_are_the_ones_of_listing_every_task_and_paging_it(
    backend: LocalBackend, client: Client
) -> None:
    put_job(backend, "b", "Running", {"psi": "Succeeded", "split": "Running"})
    put_job(backend, "a", "Failed", {"psi": "Failed"})
    for i in range(9):
        put_task(backend, f"c-{i}", PHASES[i % len(PHASES)])
    infos = sorted((task_info(t) for t in backend.list("KusciaTask", NS)), key=lambda t: t.name)
    for limit, states in itertools.product((1, 2, 5, 50), ({"Running"}, {"Pending", "Failed"}, set())):
        new: list[dict[str, Any]] = []
        marker = None
        while True:
            page: TaskPage = client.list_task(status=states or None, max_keys=limit, marker=marker)
            new.append(page.to_dict())
            if page.next_marker is None:
                break
            marker = page.next_marker
        assert new == _old_walk(infos, states, limit), (limit, states)


def _plan(backend: LocalBackend, phases: frozenset[str]) -> str:
    sql, args = store_pages.task_page_sql(phases)
    rows = backend.store._query("EXPLAIN QUERY PLAN " + sql, [NS, "t-a", *args, 51])
    return " ".join(str(row[3]) for row in rows)


def test_a_page_is_an_index_range_not_a_scan_and_a_sort(backend: LocalBackend) -> None:
    plan = _plan(backend, frozenset({"Running", "Failed"}))
    assert "SEARCH objects USING INDEX sqlite_autoindex_objects_1 (kind=? AND namespace=? AND name>?)" in plan
    assert "TEMP B-TREE" not in plan  # rows come in name order: no sort of every task
    one_phase = _plan(backend, frozenset({"Failed"}))
    assert "USING INDEX objects_task_phase (kind=? AND namespace=? AND <expr>=? AND name>?)" in one_phase
    assert "TEMP B-TREE" not in one_phase


def test_markers_of_another_backend_are_refused_and_a_usage_error_at_the_command_line(
    cli_backend: LocalBackend,
) -> None:
    put_task(cli_backend, "t-a")
    kubernetes = encode_marker(KUBERNETES_MARKER, "{}")
    for bad in ["t-a", kubernetes]:
        with pytest.raises(InvalidMarker, match="is not one kgitops printed"):
            cli_backend.list_tasks(TaskPageRequest(NS, 2, bad))
    assert [t.name for t in cli_backend.list_tasks(TaskPageRequest(NS, 2, name_marker(""))).items] == ["t-a"]
    result = CliRunner().invoke(main, ["task", "list", "--marker", kubernetes])
    assert result.exit_code == 2, result.output
    assert "is not one kgitops printed" in result.output and "Traceback" not in result.output


def test_show_of_a_missing_task_suggests_names_read_from_the_index(
    backend: LocalBackend, client: Client
) -> None:
    for name in ("t-psi", "t-split", "other"):
        put_task(backend, name)
    assert store_pages.task_names(backend.store, NS) == ["other", "t-psi", "t-split"]
    assert backend.task_names(NS) == ["other", "t-psi", "t-split"]
    with pytest.raises(TaskNotFound, match="did you mean `t-psi`") as err:
        client.show_task("t-pis")
    assert err.value.exit_code == 1
