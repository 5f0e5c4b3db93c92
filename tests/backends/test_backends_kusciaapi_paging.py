"""Paging jobs (and tasks) through KusciaAPI: the kusciaapi backend against ``kgitops serve`` (over the
Kubernetes backend on the stand-in API server, real HTTPS with mutual TLS), and a Kuscia node's stand-in (no
list)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.kusciaapi import KusciaAPIBackend
from reconciler.backends.pages import (
    KUSCIAAPI_MARKER,
    InvalidMarker,
    PageRequest,
    TaskPageRequest,
    encode_marker,
)
from reconciler.kuscia import codes as ec
from reconciler.model import ObjectRef, Resource

from .kuscia_node_standin import KusciaNode
from .kusciaapi_fixtures import TOKEN, Served
from .test_backends_kusciaapi_node import job

NS = "cross-domain"


def walk(api: KusciaAPIBackend, limit: int, between: Any = None, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = api.list_jobs(PageRequest(NS, limit, marker, **filters))
        pages.append([j.name for j in page.items])
        if page.next_marker is None:
            return pages
        marker = page.next_marker
        if between is not None:
            between(len(pages))


def test_serve_pages_every_job_once_in_order_reading_no_more_than_a_page(served: Served) -> None:
    api = served.client()
    names = [f"job-{i:02d}" for i in range(10)]
    for name in names:
        api.create(job(name))
    served.standin.listed.clear()

    def churn(pages_so_far: int) -> None:
        if pages_so_far == 1:
            listed = len(served.standin.listed)
            api.delete(ObjectRef.of("KusciaJob", "job-07"))
            api.create(job("job-00a"))  # before the marker: not in this walk
            del served.standin.listed[listed:]  # the create's admission lists every job (XF002)

    pages = walk(api, 3, churn)
    seen = [n for p in pages for n in p]
    assert pages[0] == names[:3] and all(len(p) <= 3 for p in pages)
    assert seen == sorted(set(seen)) and "job-00a" not in seen
    assert {n for n in names if n != "job-07"} <= set(seen) <= set(names)
    assert served.standin.listed and max(served.standin.listed) <= 3  # serve read Kubernetes in pages too


def test_filters_apply_to_the_labels_kgitops_keeps_and_to_phases(served: Served) -> None:
    api = served.client()
    for i in range(8):
        api.create(job(f"job-{i}", {"team": "risk" if i % 2 else "fraud"}))
        served.set_phase(f"job-{i}", {"phase": "Failed" if i % 3 == 0 else "Running"})
    pages = walk(api, 2, labels={"team": "fraud"}, phases=frozenset({"Running"}))
    assert [n for p in pages for n in p] == ["job-2", "job-4"]
    assert pages[-1] == [] or len(pages) == 1  # the page is full exactly at the end of what serve has


def test_markers_kgitops_did_not_print_are_usage_errors(served: Served) -> None:
    api = served.client()
    api.create(job("job-a"))
    for bad in ["nonsense", encode_marker(KUSCIAAPI_MARKER, "not-a-token-serve-printed")]:
        with pytest.raises(InvalidMarker, match="is not one kgitops printed") as err:
            api.list_jobs(PageRequest(NS, 2, bad))
        assert err.value.exit_code == 2


def _post(served: Served, body: dict[str, Any]) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=str(served.pki.ca))
    ctx.load_cert_chain(str(served.pki.client_cert), str(served.pki.client_key))
    req = urllib.request.Request(
        served.server.url + "/api/v1/job/list",
        data=json.dumps(body).encode(),
        headers={"Token": TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def test_the_list_extension_on_the_wire(served: Served) -> None:
    api = served.client()
    for name in ("job-a", "job-b", "job-c"):
        api.create(job(name))
    first = _post(served, {"page_size": 2})
    assert [j["job_id"] for j in first["data"]["jobs"]] == ["job-a", "job-b"]
    rest = _post(served, {"page_size": 2, "page_token": first["data"]["next_page_token"]})
    assert [j["job_id"] for j in rest["data"]["jobs"]] == ["job-c"] and rest["data"]["next_page_token"] == ""
    assert [j["job_id"] for j in _post(served, {})["data"]["jobs"]] == ["job-a", "job-b", "job-c"]
    bad_pages: list[dict[str, Any]] = [{"page_size": 0, "page_token": "t"}, {"page_size": 1001}]
    bad_pages.append({"page_size": 2, "page_token": "?"})  # a token serve did not print
    for bad in bad_pages:
        status = _post(served, bad)["status"]
        assert status["code"] == ec.REQUEST_VALIDATE and "page" in status["message"]


def test_a_node_without_a_list_call_is_paged_by_name(tmp_path: Path) -> None:
    node = KusciaNode(tmp_path / "node")
    try:
        api = KusciaAPIBackend(node.url, state_dir=tmp_path / "state", timeout=10)
        for name in ("job-c", "job-a", "job-d", "job-b"):
            api.create(job(name))
        first = api.list_jobs(PageRequest(NS, 2))
        api.delete(ObjectRef.of("KusciaJob", "job-b"))
        assert [j.name for j in first.items] == ["job-a", "job-b"] and first.next_marker
        rest = api.list_jobs(PageRequest(NS, 2, first.next_marker))
        assert [j.name for j in rest.items] == ["job-c", "job-d"] and rest.next_marker is None
        assert api.job_names(NS) == ["job-a", "job-c", "job-d"]
        api.close()
    finally:
        node.close()


def _kuscia_task(job_id: str) -> Resource:
    """The KusciaTask Kuscia's job controller creates for the job's one task (``<job>-psi``)."""
    return Resource(
        kind="KusciaTask",
        name=f"{job_id}-psi",
        namespace=NS,
        spec={
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": "secretflow-image"}],
        },
    )


def test_tasks_are_paged_from_the_jobs_statuses_with_the_phase_filter(served: Served) -> None:
    """KusciaAPI has no task query: the tasks are those the jobs' statuses show, paged by name."""
    api = served.client()
    phases = ["Running", "Failed", "Running", "Succeeded", "Running"]
    for i, phase in enumerate(phases):
        api.create(job(f"job-{i}"))
        served.direct.create(_kuscia_task(f"job-{i}"))
        served.set_phase(f"job-{i}", {"phase": "Running", "taskStatus": {f"job-{i}-psi": phase}})
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = api.list_tasks(TaskPageRequest(NS, 2, marker, frozenset({"Running"})))
        pages.append([t.name for t in page.items])
        if page.next_marker is None:
            break
        marker = page.next_marker
        if len(pages) == 1:
            api.delete(ObjectRef.of("KusciaJob", "job-2"))  # the marker's task goes with its job
    assert pages == [["job-0-psi", "job-2-psi"], ["job-4-psi"]]
    assert api.task_names(NS) == ["job-0-psi", "job-1-psi", "job-3-psi", "job-4-psi"]
    with pytest.raises(InvalidMarker, match="is not one kgitops printed"):
        api.list_tasks(TaskPageRequest(NS, 2, encode_marker(KUSCIAAPI_MARKER, "x")))
