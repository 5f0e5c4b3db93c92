"""Paging jobs in the embedded engine's store: every job once in name order while jobs come and go, the
filters in SQL together with paging, the query an index range, markers, and "did you mean" from names."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from ops_fixtures import NS, put_job

from reconciler.backends.local import LocalBackend
from reconciler.backends.pages import (
    KUBERNETES_MARKER,
    InvalidMarker,
    PageRequest,
    encode_marker,
    name_marker,
)
from reconciler.cli import main
from reconciler.engine import store_pages
from reconciler.model import ObjectRef
from reconciler.sdk import Client, JobNotFound


def walk(backend: LocalBackend, request: PageRequest, between: object = None) -> list[list[str]]:
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = backend.list_jobs(
            PageRequest(
                NS, request.limit, marker, request.labels, request.phases, request.initiator,
                request.updated_after, request.started_after,
            )
        )  # fmt: skip
        pages.append([j.name for j in page.items])
        if page.next_marker is None:
            return pages
        marker = page.next_marker
        if callable(between):
            between(len(pages))


def test_every_job_once_in_name_order_while_jobs_are_created_and_deleted(backend: LocalBackend) -> None:
    for i in range(11):
        put_job(backend, f"job-{i:02d}")

    def churn(pages_so_far: int) -> None:
        if pages_so_far == 1:
            backend.delete(ObjectRef.of("KusciaJob", "job-03"))  # the page's last job: the marker's name
            backend.delete(ObjectRef.of("KusciaJob", "job-07"))  # ahead: never shown
            put_job(backend, "job-00a")  # behind the marker: not in this walk
            put_job(backend, "job-08a")  # ahead: shown in its place

    pages = walk(backend, PageRequest(NS, 4), churn)
    expected = [f"job-{i:02d}" for i in range(11) if i != 7]
    expected.insert(expected.index("job-09"), "job-08a")
    assert pages == [expected[:4], expected[4:8], expected[8:]]


def test_filters_and_paging_together(backend: LocalBackend) -> None:
    for i in range(12):
        put_job(
            backend,
            f"job-{i:02d}",
            ["Running", "Failed", "initialized", ""][i % 4],
            labels={"team": "risk" if i % 2 else "fraud"},
            status={"startTime": f"2026-01-{i + 1:02d}T00:00:00Z"} if i % 3 else {},
        )
    initialized = walk(backend, PageRequest(NS, 2, phases=frozenset({"Initialized"})))
    assert initialized == [["job-02", "job-03"], ["job-06", "job-07"], ["job-10", "job-11"]]
    fraud = walk(backend, PageRequest(NS, 2, labels={"team": "fraud"}, phases=frozenset({"Running"})))
    assert fraud == [["job-00", "job-04"], ["job-08"]]
    started = datetime(2026, 1, 5, tzinfo=UTC)
    late = walk(backend, PageRequest(NS, 3, started_after=started))
    assert late == [["job-05", "job-07", "job-08"], ["job-10", "job-11"]]
    assert walk(backend, PageRequest(NS, 3, initiator="carol")) == [[]]
    assert walk(backend, PageRequest(NS, 3, labels={"team": "risk", 'odd"key': "x"})) == [[]]


def test_a_time_filter_keeps_paging_past_a_scan_chunk(backend: LocalBackend) -> None:
    count = store_pages.SCAN_CHUNK + 30
    with backend.store.transaction():
        for i in range(count):
            started = {"startTime": "2026-02-01T00:00:00Z"} if i % 7 == 0 else {}
            put_job(backend, f"job-{i:04d}", status=started)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    seen = [n for p in walk(backend, PageRequest(NS, 40, started_after=started)) for n in p]
    assert seen == [f"job-{i:04d}" for i in range(count) if i % 7 == 0]


def _plan(backend: LocalBackend, selection: store_pages.JobSelection) -> str:
    sql, args = store_pages.page_sql(selection)
    rows = backend.store._query("EXPLAIN QUERY PLAN " + sql, [NS, "job-a", *args, 51])
    return " ".join(str(row[3]) for row in rows)


def test_a_page_is_an_index_range_not_a_scan_and_a_sort(backend: LocalBackend) -> None:
    two_phases = frozenset({"Running", "Failed"})
    plan = _plan(backend, store_pages.JobSelection(two_phases, "alice", {"team": "risk"}))
    assert "SEARCH objects USING INDEX sqlite_autoindex_objects_1 (kind=? AND namespace=? AND name>?)" in plan
    assert "TEMP B-TREE" not in plan  # rows come in name order: no sort of every job
    one_phase = _plan(backend, store_pages.JobSelection(frozenset({"Failed"})))
    assert "USING INDEX objects_job_phase (kind=? AND namespace=? AND <expr>=? AND name>?)" in one_phase
    assert "TEMP B-TREE" not in one_phase


def test_markers_of_another_backend_or_none_at_all_are_refused(backend: LocalBackend) -> None:
    put_job(backend, "job-a")
    kubernetes = encode_marker(KUBERNETES_MARKER, "{}")
    no_colon = base64.urlsafe_b64encode(b"m1job-a").decode()
    for bad in ["job-a", no_colon, kubernetes, kubernetes + "!"]:
        with pytest.raises(InvalidMarker, match="is not one kgitops printed"):
            backend.list_jobs(PageRequest(NS, 2, bad))
    assert [j.name for j in backend.list_jobs(PageRequest(NS, 2, name_marker(""))).items] == ["job-a"]


def test_an_invalid_marker_at_the_command_line_is_a_usage_error(cli_backend: LocalBackend) -> None:
    put_job(cli_backend, "job-a")
    result = CliRunner().invoke(main, ["job", "list", "--marker", encode_marker(KUBERNETES_MARKER, "{}")])
    assert result.exit_code == 2, result.output
    assert "is not one kgitops printed" in result.output and "Traceback" not in result.output


def test_show_of_a_missing_job_suggests_names_read_from_the_index(
    backend: LocalBackend, client: Client
) -> None:
    for name in ("job-psi", "job-split", "other"):
        put_job(backend, name)
    assert store_pages.job_names(backend.store, NS) == ["job-psi", "job-split", "other"]
    with pytest.raises(JobNotFound, match="did you mean `job-psi`") as err:
        client.show_job("job-pis")
    assert err.value.exit_code == 1
