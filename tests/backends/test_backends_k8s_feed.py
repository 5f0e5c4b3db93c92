"""The Kubernetes backend's change feed (``Backend.changes``, ``k8s.informer``): the first call lists, the
second lists and starts a watch, later ones answer from the watch's events. On every API server of
``conftest.py``; a 410 Gone, a watch refused for good and the request log on the stand-in only. Another
client's writes are made by an admin (``k8s_admin``) and arrive through the watch: the tests poll for them
with a deadline. The backend's own writes must be in the very next answer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gitops.gitops_support import job_doc, write
from kubernetes.client.exceptions import ApiException

from reconciler.apply import Reconciler
from reconciler.backends.base import LiveChanges
from reconciler.backends.k8s.informer import Informer
from reconciler.backends.k8s.inventory import configmap_name
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.kuscia.labels import LABEL_JOB_STAGE
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.plan import PlanOptions
from reconciler.source import DirectorySource

from .conftest import FAST, NAMESPACE, Server, set_job_status
from .k8s_standin import StandInServer
from .test_backends_kubernetes import job

KIND = "KusciaJob"


def until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached in time"
        time.sleep(0.02)


class View:
    """What a caller of ``changes`` keeps (as the plan's live cache does): the objects, the token, and every
    ref it was told is gone."""

    def __init__(self, backend: KubernetesBackend, labels: dict[str, str]) -> None:
        self.backend, self.labels = backend, labels
        self.token = ""
        self.objects: dict[ObjectRef, Resource] = {}
        self.removed: list[str] = []

    def refresh(self) -> LiveChanges:
        found = self.backend.changes(KIND, self.token, self.labels)
        if found.complete:
            self.objects = {o.ref: o for o in found.changed}
        else:
            for ref in found.removed:
                self.objects.pop(ref, None)
                self.removed.append(ref.name)
            self.objects.update({o.ref: o for o in found.changed})
        self.token = found.version
        return found

    def phases(self) -> dict[str, str]:
        return {o.name: str(o.status.get("phase", "")) for o in self.objects.values()}


def truth(admin: KubernetesBackend, labels: dict[str, str]) -> dict[str, str]:
    return {o.name: str(o.status.get("phase", "")) for o in admin.list(KIND, labels=labels)}


def informer(backend: KubernetesBackend, labels: dict[str, str]) -> Informer:
    (found,) = [i for i in backend.feeds.informers(KIND) if i.labels == labels]
    return found


def names(found: LiveChanges) -> tuple[list[str], list[str]]:
    return [o.name for o in found.changed], [r.name for r in found.removed]


def test_another_clients_writes_arrive_through_the_watch_without_a_request(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    sel = {"feed": unique}
    k8s_admin.create(job(f"{unique}-a", sel))
    view = View(k8s, sel)
    first = view.refresh()
    assert first.complete and view.phases() == {f"{unique}-a": ""}
    second = view.refresh()  # lists again and starts the watch
    assert not second.complete and names(second) == ([], [])
    feed = informer(k8s, sel)
    assert feed.lists == 2 and feed.watching

    k8s_admin.create(job(f"{unique}-b", sel))
    k8s_admin.create(job(f"{unique}-c", sel))
    set_job_status(k8s_admin, f"{unique}-a", {"phase": "Running"})
    k8s_admin.delete(ObjectRef.of(KIND, f"{unique}-c"))
    k8s_admin.update_metadata(ObjectRef.of(KIND, f"{unique}-b"), labels={"feed": None})  # stops matching
    want = truth(k8s_admin, sel)
    assert want == {f"{unique}-a": "Running"}
    until(lambda: view.refresh() is not None and view.phases() == want, what="the view matching a list")
    assert f"{unique}-c" in view.removed and f"{unique}-b" in view.removed
    assert feed.lists == 2  # all of it from the watch: no list since the second call

    k8s_admin.create(job(f"{unique}-c", sel))  # deleted and created again
    until(lambda: view.refresh() is not None and f"{unique}-c" in view.phases(), what="the re-created job")
    assert view.phases() == truth(k8s_admin, sel)


def test_the_backends_own_writes_are_in_the_very_next_answer(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    sel = {"feed": unique}
    view = View(k8s, sel)
    view.refresh()
    view.refresh()  # the watch runs from here on
    x, y = ObjectRef.of(KIND, f"{unique}-x"), ObjectRef.of(KIND, f"{unique}-y")

    k8s.create(job(x.name, sel))
    assert names(view.refresh()) == ([x.name], [])
    k8s.stage(x, Stage.STOP)
    found = view.refresh()
    assert names(found) == ([x.name], []) and found.changed[0].labels[LABEL_JOB_STAGE] == "Stop"
    k8s.create(job(y.name, sel))
    k8s.approve(y, "bob", True)
    found = view.refresh()
    assert names(found) == ([y.name], [])
    assert found.changed[0].status["approveStatus"] == {"bob": "JobAccepted"}
    k8s.update_metadata(x, labels={"feed": None})  # no longer selected
    assert names(view.refresh()) == ([], [x.name])
    k8s.delete(y)
    assert names(view.refresh()) == ([], [y.name])
    assert view.objects == {}

    # Once the watch has caught up with those writes (it has delivered a later one), its late events changed
    # nothing: no deleted job came back, no older state replaced a newer one.
    k8s_admin.create(job(f"{unique}-z", sel))
    until(lambda: view.refresh() is not None and f"{unique}-z" in view.phases(), what="the watch catching up")
    assert view.phases() == truth(k8s_admin, sel) == {f"{unique}-z": ""}
    assert informer(k8s, sel).lists == 2


def test_a_token_of_another_informer_or_process_gets_a_complete_answer(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    sel = {"feed": unique}
    k8s.create(job(f"{unique}-a", sel))
    mine = View(k8s, sel)
    mine.refresh()
    mine.refresh()
    other = View(k8s_admin, sel)
    other.refresh()
    epoch, _, seq = mine.token.partition(":")
    feed = informer(k8s, sel)
    k8s_admin.create(job(f"{unique}-b", sel))  # not waited for: a complete answer is a fresh list
    for token in (other.token, "garbage", f"{epoch}:{int(seq) + 5}", f"{epoch}:x", "0", ""):
        lists = feed.lists
        found = k8s.changes(KIND, token, sel)
        assert found.complete and [o.name for o in found.changed] == [f"{unique}-a", f"{unique}-b"], token
        assert feed.lists == lists + 1
    assert not k8s.changes(KIND, mine.token, sel).complete
    other_sel = k8s.changes(KIND, mine.token, {"feed": f"{unique}-other"})  # another informer's token
    assert other_sel.complete and other_sel.changed == []


def test_a_single_call_starts_no_watch_and_close_stops_every_watch(server: Server, unique: str) -> None:
    backend = KubernetesBackend(
        load_api_client(server.kubeconfig, server.context), NAMESPACE, "alice", FAST, request_timeout=5
    )
    sel = {"feed": unique}
    assert backend.changes(KIND, "", sel).complete  # a one-shot ``kgitops diff``: one list
    feed = informer(backend, sel)
    assert feed.watch is None and not feed.watching
    if server.standin is not None:
        assert not any(q.get("watch") == "true" for q in server.standin.queries)
    backend.changes(KIND, "", None)
    backend.changes(KIND, "", None)
    backend.changes(KIND, "", sel)
    feeds = backend.feeds.informers(KIND)
    assert len(feeds) == 2 and all(f.watching for f in feeds)
    backend.close()
    assert not any(f.watching for f in feeds)


@pytest.mark.servers("standin", reason="a 410 Gone with objects deleted while the server is down")
def test_a_relist_after_410_gone_loses_no_deletion(k8s: KubernetesBackend, standin: StandInServer) -> None:
    sel = {"feed": "gone"}
    for name in ("steady", "doomed", "later"):
        k8s.create(job(name, sel))
    view = View(k8s, sel)
    view.refresh()
    view.refresh()
    feed = informer(k8s, sel)
    watch = feed.watch
    assert watch is not None and watch.relists == 1  # seeded by the backend's list

    standin.stop()  # the API server goes away; meanwhile objects change and its history is compacted
    standin.set_status("kusciajobs", NAMESPACE, "steady", {"phase": "Running"})
    with standin.store.cond:
        standin.store.objects[("kusciajobs", NAMESPACE)].pop("doomed")
        standin.store.bump()
    standin.compact()
    until(lambda: watch.interrupted, what="the watch noticing the outage")
    standin.start()
    until(lambda: watch.relists == 2 and not watch.interrupted, what="the re-list after 410 Gone")

    until(lambda: view.refresh() is not None and "doomed" in view.removed, what="the deletion")
    until(lambda: view.refresh() is not None and view.phases().get("steady") == "Running", what="the status")
    assert view.phases() == {"steady": "Running", "later": ""}
    assert feed.lists == 2  # from the watch's re-list: ``changes`` itself listed nothing more


@pytest.mark.servers("standin", reason="a watch refused for good (an injected 403) while the server restarts")
def test_a_watch_that_ended_means_lists_until_a_new_one_runs(
    k8s: KubernetesBackend, standin: StandInServer
) -> None:
    sel = {"feed": "ended"}
    for name in ("stays", "goes"):
        k8s.create(job(name, sel))
    view = View(k8s, sel)
    view.refresh()
    view.refresh()
    feed = informer(k8s, sel)
    first_watch = feed.watch
    standin.stop()
    with standin.store.cond:
        standin.store.objects[("kusciajobs", NAMESPACE)].pop("goes")
        standin.store.bump()
    standin.inject("GET", "/kusciajobs", 403)  # the watch's next request: not worth retrying
    standin.start()
    until(lambda: not feed.watching, what="the watch ending")
    found = view.refresh()  # lists (the deletion is in it) and starts a new watch
    assert feed.lists == 3 and names(found) == ([], ["goes"])
    assert feed.watch is not first_watch and feed.watching
    k8s.create(job("new", sel))
    standin.set_status("kusciajobs", NAMESPACE, "stays", {"phase": "Running"})
    want = {"stays": "Running", "new": ""}
    until(lambda: view.refresh() is not None and view.phases() == want, what="the new watch's events")
    assert feed.lists == 3


@pytest.fixture
def src(tmp_path: Path, unique: str, k8s_admin: KubernetesBackend) -> Iterator[Path]:
    root = tmp_path / "src"
    for n in ("a", "b"):
        write(root, f"{n}.yaml", job_doc(f"{unique}-{n}"))
    yield root
    with contextlib.suppress(ApiException):
        name = configmap_name(DirectorySource(root).source_id)
        k8s_admin.core.delete_namespaced_config_map(name, k8s_admin.namespace)


def test_plans_over_the_feed_equal_plans_over_a_full_list(
    server: Server, k8s: KubernetesBackend, k8s_admin: KubernetesBackend, src: Path, unique: str
) -> None:
    options = PlanOptions(prune=True)
    warm = Reconciler(DirectorySource(src), k8s, options)

    def mine(rec: Reconciler) -> list[tuple[str, str, bool, str]]:
        return sorted(
            (e.ref.name, str(e.action), e.drift, e.live.resource_version if e.live else "")
            for e in rec.plan().plan.entries
            if e.ref.name.startswith(unique)
        )

    def cold() -> list[tuple[str, str, bool, str]]:
        fresh = KubernetesBackend(
            load_api_client(server.kubeconfig, server.context), NAMESPACE, "alice", FAST, request_timeout=5
        )
        try:
            return mine(Reconciler(DirectorySource(src), fresh, options))
        finally:
            fresh.close()

    def settled() -> Any:
        return mine(warm) == cold()

    assert [a for _n, a, _d, _rv in mine(warm)] == ["create", "create"]
    warm.sync()
    assert mine(warm) == cold()  # its own creates: no waiting
    mine(warm)  # the second read starts the watches
    assert [a for _n, a, _d, _rv in mine(warm)] == ["unchanged", "unchanged"]

    # Another client: deletes one job, writes the other's status, and creates one the source does not have.
    k8s_admin.delete(ObjectRef.of(KIND, f"{unique}-a"))
    set_job_status(k8s_admin, f"{unique}-b", {"phase": "Running"})
    k8s_admin.create(job(f"{unique}-c"))
    until(settled, what="the warm plan matching a plan over a full list")
    entries = {n: (a, d) for n, a, d, _rv in mine(warm)}
    assert entries[f"{unique}-a"] == ("create", True)  # deleted behind kgitops' back: drift
    assert f"{unique}-c" in entries

    # The source changes: b leaves it (prune: stopped first, it runs), d comes in; after the sync (which
    # stops b and creates d) the plans agree at once.
    (src / "b.yaml").unlink()
    write(src, "d.yaml", job_doc(f"{unique}-d"))
    warm.sync()
    assert mine(warm) == cold()
    entries = {n: (a, d) for n, a, d, _rv in mine(warm)}
    assert entries[f"{unique}-d"] == ("unchanged", False) and entries[f"{unique}-b"][0] == "prune"
