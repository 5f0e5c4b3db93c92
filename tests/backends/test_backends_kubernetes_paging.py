"""Paging KusciaJobs and KusciaTasks through Kubernetes' ``limit``/``continue``, on every API server of
``conftest.py`` (the tests' jobs carry a label or a name prefix of their own)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.backends.k8s.objects import GROUP, VERSION
from reconciler.backends.kubernetes import KubernetesBackend
from reconciler.backends.pages import InvalidMarker, PageRequest, TaskPageRequest, name_marker
from reconciler.model import ObjectRef, Resource

from .conftest import set_job_status
from .k8s_standin import StandInServer
from .test_backends_kubernetes import job

SOURCE = "kgitops.io/source"


def _walk(k8s: KubernetesBackend, request: PageRequest, between: object = None) -> list[list[str]]:
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = k8s.list_jobs(
            PageRequest(k8s.namespace, request.limit, marker, request.labels, request.phases)
        )
        pages.append([j.name for j in page.items])
        if page.next_marker is None:
            return pages
        marker = page.next_marker
        if callable(between):
            between(len(pages))


def test_paging_returns_every_job_once_in_name_order_while_jobs_come_and_go(
    k8s: KubernetesBackend, unique: str
) -> None:
    names = [f"{unique}-{i:02d}" for i in range(12)]
    for name in names:
        k8s.create(job(name, {SOURCE: unique}))
    deleted = f"{unique}-09"
    added = [f"{unique}-00a", f"{unique}-11a"]

    def churn(pages_so_far: int) -> None:
        if pages_so_far == 1:
            k8s.delete(ObjectRef.of("KusciaJob", deleted))
            for name in added:
                k8s.create(job(name, {SOURCE: unique}))

    pages = _walk(k8s, PageRequest(k8s.namespace, 5, labels={SOURCE: unique}), churn)
    seen = [n for p in pages for n in p]
    assert all(len(p) <= 5 for p in pages) and pages[0] == names[:5]
    assert seen == sorted(set(seen))  # in order, each once
    # every job that existed throughout is there; a continued list reads the first list's snapshot on
    # Kubernetes, so the one deleted meanwhile may still show and the ones created may not
    assert {n for n in names if n != deleted} <= set(seen) <= set(names) | set(added)
    assert f"{unique}-00a" not in seen  # created before the marker: never


def test_filters_and_paging_together(k8s: KubernetesBackend, unique: str) -> None:
    for i in range(10):
        k8s.create(job(f"{unique}-{i}", {SOURCE: unique, "team": "risk" if i % 2 else "fraud"}))
        set_job_status(k8s, f"{unique}-{i}", {"phase": "Failed" if i % 3 == 0 else "Running"})
    fraud = {SOURCE: unique, "team": "fraud"}
    request = PageRequest(k8s.namespace, 2, labels=fraud, phases=frozenset({"Running"}))
    pages = _walk(k8s, request)
    assert [n for p in pages for n in p] == [f"{unique}-2", f"{unique}-4", f"{unique}-8"]
    assert [len(p) for p in pages] == [2, 1]


@pytest.mark.servers("standin", reason="counts the objects of each list response")
def test_a_page_reads_chunks_of_its_own_size_never_the_whole_collection(
    k8s: KubernetesBackend, standin: StandInServer, unique: str
) -> None:
    for i in range(20):
        k8s.create(job(f"{unique}-{i:02d}"))
    standin.listed.clear()
    pages = _walk(k8s, PageRequest(k8s.namespace, 4))
    assert [n for p in pages for n in p] == [f"{unique}-{i:02d}" for i in range(20)]
    assert standin.listed and max(standin.listed) <= 4


@pytest.mark.servers("standin", reason="compacts the list's revision on demand")
def test_an_expired_continue_token_goes_on_with_the_fresh_one(
    k8s: KubernetesBackend, standin: StandInServer, unique: str
) -> None:
    for i in range(6):
        k8s.create(job(f"{unique}-{i}"))
    first = k8s.list_jobs(PageRequest(k8s.namespace, 2))
    k8s.delete(ObjectRef.of("KusciaJob", f"{unique}-3"))
    standin.compact()  # etcd compacted the first list's revision: its token gets 410 Expired
    assert first.next_marker is not None
    second = k8s.list_jobs(PageRequest(k8s.namespace, 2, first.next_marker))
    assert [j.name for j in second.items] == [f"{unique}-2", f"{unique}-4"]


def test_markers_that_kgitops_did_not_print_are_refused(k8s: KubernetesBackend) -> None:
    for bad in ["nonsense", name_marker("job-a")]:  # the second: the embedded engine's, not Kubernetes'
        with pytest.raises(InvalidMarker, match="is not one kgitops printed") as err:
            k8s.list_jobs(PageRequest(k8s.namespace, 2, bad))
        assert err.value.exit_code == 2


# -- KusciaTasks (``task list``) ---------------------------------------------------------------------------


def task(name: str) -> Resource:
    """A KusciaTask as Kuscia's job controller creates one (without its job: nothing here needs it)."""
    return Resource(
        kind="KusciaTask",
        name=name,
        spec={
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": "secretflow-image"}],
        },
    )


def set_task_status(k8s: KubernetesBackend, name: str, status: dict[str, Any]) -> None:
    """Play Kuscia's task controller (as admin: kgitops' Role never writes a task's status) through the status
    subresource."""
    doc = k8s.custom.get_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciatasks", name)
    doc["status"] = status
    k8s.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, k8s.namespace, "kusciatasks", name, doc
    )


def _walk_tasks(
    k8s: KubernetesBackend, limit: int, phases: frozenset[str] = frozenset(), between: Any = None
) -> list[list[str]]:
    """Every page's names; ``between(pages)`` is called after each page but the last."""
    pages: list[list[str]] = []
    marker = ""
    while True:
        page = k8s.list_tasks(TaskPageRequest(k8s.namespace, limit, marker, phases))
        assert len(page.items) <= limit
        pages.append([t.name for t in page.items])
        if page.next_marker is None:
            return pages
        marker = page.next_marker
        if between is not None:
            between(pages)


def test_paging_returns_every_task_once_in_name_order_while_tasks_come_and_go(
    k8s: KubernetesBackend, unique: str
) -> None:
    """On the real servers other tests' tasks may share the namespace: only this test's are counted, and the
    whole walk must still be in order with each task once."""
    names = [f"{unique}-{i:02d}" for i in range(9)]
    for name in names:
        k8s.create(task(name))
    added = [f"{unique}-00a", f"{unique}-08a"]
    gone = {f"{unique}-06"}

    def churn(pages: list[list[str]]) -> None:
        if len(pages) == 1:
            ours = [n for n in pages[0] if n.startswith(unique)]
            gone.update(ours[-1:])  # the page's last task of ours: its marker's, unless others follow it
            for name in sorted(gone):
                k8s.delete(ObjectRef.of("KusciaTask", name, k8s.namespace))
            for name in added:
                k8s.create(task(name))

    pages = _walk_tasks(k8s, 4, between=churn)
    seen = [n for p in pages for n in p]
    assert seen == sorted(set(seen))  # in order, each once
    mine = {n for n in seen if n.startswith(unique)}
    # a continued list reads the first list's snapshot on Kubernetes: the ones deleted meanwhile may still
    # show and the ones created may not; every task that existed throughout is there
    assert {n for n in names if n not in gone} <= mine <= set(names) | set(added)
    assert f"{unique}-00a" not in mine  # created before the marker: never


def test_the_phase_filter_with_paging(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    phases = ["Running", "Failed", "", "Succeeded", "Running", "Unknown", "Running", "Failed"]
    for i, phase in enumerate(phases):
        k8s.create(task(f"{unique}-{i}"))
        if phase:
            set_task_status(k8s_admin, f"{unique}-{i}", {"phase": phase})

    def mine(wanted: set[str]) -> list[str]:
        pages = _walk_tasks(k8s, 2, frozenset(wanted))
        return [n for p in pages for n in p if n.startswith(unique)]

    assert mine({"Running"}) == [f"{unique}-0", f"{unique}-4", f"{unique}-6"]
    assert mine({"Pending"}) == [f"{unique}-2", f"{unique}-5"]  # no phase, or one Kuscia does not have
    assert mine({"Failed", "Succeeded"}) == [f"{unique}-1", f"{unique}-3", f"{unique}-7"]


@pytest.mark.servers("standin", reason="counts the objects of each list response")
def test_a_task_page_reads_chunks_of_its_own_size(
    k8s: KubernetesBackend, standin: StandInServer, unique: str
) -> None:
    for i in range(10):
        k8s.create(task(f"{unique}-{i:02d}"))
    standin.listed.clear()
    first = k8s.list_tasks(TaskPageRequest(k8s.namespace, 3))
    k8s.delete(ObjectRef.of("KusciaTask", f"{unique}-02", k8s.namespace))  # the marker's task
    assert first.next_marker is not None
    second = k8s.list_tasks(TaskPageRequest(k8s.namespace, 3, first.next_marker))
    assert [t.name for t in first.items + second.items] == [f"{unique}-{i:02d}" for i in range(6)]
    assert standin.listed and max(standin.listed) <= 3
    assert k8s.task_names(k8s.namespace) == [f"{unique}-{i:02d}" for i in range(10) if i != 2]


def test_task_markers_that_kgitops_did_not_print_are_refused(k8s: KubernetesBackend) -> None:
    for bad in ["nonsense", name_marker("t-a")]:  # the second: the embedded engine's, not Kubernetes'
        with pytest.raises(InvalidMarker, match="is not one kgitops printed") as err:
            k8s.list_tasks(TaskPageRequest(k8s.namespace, 2, bad))
        assert err.value.exit_code == 2
