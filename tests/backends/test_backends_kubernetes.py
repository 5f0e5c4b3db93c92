"""The Kubernetes backend through the real ``kubernetes`` client, on every API server of ``conftest.SERVERS``:
the stand-in, the real kube-apiserver as admin, and as deploy/rbac.yaml's ServiceAccount. Kuscia's controllers
are played as admin (``k8s_admin``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.base import AlreadyExists, BackendError, NotFound, PhaseError
from reconciler.backends.k8s.inventory import configmap_name
from reconciler.backends.k8s.objects import GROUP, VERSION
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.k8s.watch import WatchEvent
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.config import load_config
from reconciler.kuscia.labels import LABEL_JOB_STAGE as STAGE_LABEL
from reconciler.kuscia.labels import LABEL_JOB_STAGE_TRIGGER as STAGE_TRIGGER_LABEL
from reconciler.kuscia.labels import LABEL_JOB_STAGE_VERSION as STAGE_VERSION_LABEL
from reconciler.model import ObjectRef, Resource, Stage

from .conftest import FAST, set_job_status
from .k8s_standin import StandInServer, write_kubeconfig


def job(name: str, labels: dict[str, str] | None = None) -> Resource:
    return Resource(
        kind="KusciaJob",
        name=name,
        labels=labels or {},
        spec={
            "initiator": "alice",
            "scheduleMode": "Strict",
            "maxParallelism": 1,
            "tasks": [
                {
                    "alias": "psi",
                    "taskID": f"{name}-psi",
                    "appImage": "secretflow-image",
                    "taskInputConfig": "{}",
                    "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
                }
            ],
        },
    )


def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_create_get_list_by_label_and_delete(k8s: KubernetesBackend, unique: str) -> None:
    a = k8s.create(job(f"{unique}-a", {"kgitops.io/source": unique}))
    k8s.create(job(f"{unique}-b", {"kgitops.io/source": unique, "tier": "gold"}))
    k8s.create(job(f"{unique}-c"))
    assert a.uid and a.resource_version and a.namespace == "cross-domain"

    got = k8s.get(a.ref)
    assert got is not None and got.spec["tasks"][0]["alias"] == "psi"
    managed = k8s.list("KusciaJob", labels={"kgitops.io/source": unique})
    assert [r.name for r in managed] == [f"{unique}-a", f"{unique}-b"]
    gold = k8s.list("KusciaJob", labels={"kgitops.io/source": unique, "tier": "gold"})
    assert [r.name for r in gold] == [f"{unique}-b"]

    with pytest.raises(AlreadyExists, match="already exists"):
        k8s.create(job(f"{unique}-a"))

    for suffix in "abc":
        k8s.delete(ObjectRef.of("KusciaJob", f"{unique}-{suffix}"))
    assert k8s.get(a.ref) is None
    with pytest.raises(NotFound):
        k8s.delete(a.ref)


def test_deleting_a_job_takes_its_tasks_with_it(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    parent = k8s.create(job(unique))
    task = Resource(
        kind="KusciaTask",
        name=f"{unique}-psi",
        labels={"kuscia.secretflow/controller": "kuscia-job", "kuscia.secretflow/job-uid": parent.uid},
        spec={
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": "x"}],
        },
    )
    created = k8s.create(task)
    # Kuscia's tasks carry a controller ownerReference to the job; set it as the job controller would.
    admin = k8s_admin.custom
    doc = admin.get_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciatasks", created.name)
    doc["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "kuscia.secretflow/v1alpha1",
            "kind": "KusciaJob",
            "name": parent.name,
            "uid": parent.uid,
            "controller": True,
        }
    ]
    admin.replace_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciatasks", created.name, doc)
    assert [t.name for t in k8s.list("KusciaTask", labels={"kuscia.secretflow/job-uid": parent.uid})] == [
        created.name
    ]

    k8s.delete(parent.ref)
    eventually(lambda: k8s.get(created.ref) is None, timeout=90)  # a real cluster's garbage collector


def test_update_and_metadata_merge(k8s: KubernetesBackend, unique: str) -> None:
    obj = k8s.create(job(unique, {"keep": "1", "drop": "1"}))
    k8s.update_metadata(
        obj.ref, labels={"drop": None, "new": "2"}, annotations={"kgitops.io/revision": "abc"}
    )
    got = k8s.get(obj.ref)
    assert got is not None
    assert got.labels == {"keep": "1", "new": "2"}
    assert got.annotations == {"kgitops.io/revision": "abc"}

    changed = job(unique, {"keep": "1"})
    changed.spec["maxParallelism"] = 3
    k8s.update(changed)
    got = k8s.get(obj.ref)
    assert got is not None and got.spec["maxParallelism"] == 3 and got.labels == {"keep": "1"}
    k8s.delete(obj.ref)


def test_stage_commands_follow_kuscia_phase_rules_and_labels(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    ref = k8s.create(job(unique)).ref
    set_job_status(k8s_admin, unique, {"phase": "Pending"})
    with pytest.raises(PhaseError, match=f"job: {unique} current status is Pending can not be suspend."):
        k8s.stage(ref, Stage.SUSPEND)
    with pytest.raises(PhaseError, match="can not be restart"):
        k8s.stage(ref, Stage.RESTART)

    set_job_status(k8s_admin, unique, {"phase": "Running"})
    k8s.stage(ref, Stage.SUSPEND, domain="bob")
    labels = k8s.get(ref).labels  # type: ignore[union-attr]
    assert labels[STAGE_LABEL] == "Suspend"
    assert labels[STAGE_TRIGGER_LABEL] == "bob"
    assert labels[STAGE_VERSION_LABEL] == "1"

    set_job_status(k8s_admin, unique, {"phase": "Suspended"})
    k8s.stage(ref, Stage.RESTART)  # trigger defaults to the backend's domain
    labels = k8s.get(ref).labels  # type: ignore[union-attr]
    assert (labels[STAGE_LABEL], labels[STAGE_TRIGGER_LABEL], labels[STAGE_VERSION_LABEL]) == (
        "Restart",
        "alice",
        "2",
    )

    k8s.stage(ref, Stage.STOP)
    k8s.stage(ref, Stage.STOP)  # already Stop: KusciaAPI leaves the label alone
    assert k8s.get(ref).labels[STAGE_VERSION_LABEL] == "3"  # type: ignore[union-attr]
    k8s.stage(ref, Stage.CANCEL)
    k8s.stage(ref, Stage.CANCEL)  # Cancel is always rewritten
    assert k8s.get(ref).labels[STAGE_VERSION_LABEL] == "5"  # type: ignore[union-attr]
    k8s.delete(ref)


def test_restart_of_a_job_that_failed_validation_is_refused(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    ref = k8s.create(job(unique)).ref
    set_job_status(
        k8s_admin,
        unique,
        {
            "phase": "Failed",
            "reason": "ValidateFailed",
            "conditions": [
                {
                    "type": "JobValidated",
                    "status": "False",
                    "reason": "ValidateFailed",
                    "message": "Validate job failed, validate failed: cycled dependencies",
                }
            ],
        },
    )
    with pytest.raises(PhaseError, match="cycled dependencies.*create it again"):
        k8s.stage(ref, Stage.RESTART)
    assert STAGE_LABEL not in k8s.get(ref).labels  # type: ignore[union-attr]
    k8s.delete(ref)


def test_approvals_are_recorded_in_approve_status(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    ref = k8s.create(job(unique)).ref
    awaiting = {"phase": "AwaitingApproval", "approveStatus": {"alice": "JobAccepted"}}
    set_job_status(k8s_admin, unique, awaiting)
    k8s.approve(ref, "bob", accept=False, reason="not this week")
    got = k8s.get(ref)
    assert got is not None
    assert got.status["approveStatus"] == {"alice": "JobAccepted", "bob": "JobRejected"}
    assert got.status["phase"] == "AwaitingApproval"  # the rest of the status is untouched
    k8s.approve(ref, "bob", accept=True)
    assert k8s.get(ref).status["approveStatus"]["bob"] == "JobAccepted"  # type: ignore[union-attr]
    k8s.delete(ref)


def test_inventory_lives_in_a_configmap_per_source(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    source = f"git@example.org:Team/Jobs.git#main/{unique}"
    assert k8s.get_inventory(source) == set()
    refs = {ObjectRef.of("KusciaJob", f"{unique}-a"), ObjectRef.of("AppImage", "secretflow-image")}
    k8s.set_inventory(source, refs)
    k8s.set_inventory(f"{unique}-another-source", {ObjectRef.of("KusciaJob", "other")})
    assert k8s.get_inventory(source) == refs
    cm = k8s.core.read_namespaced_config_map(configmap_name(source), k8s.namespace)
    assert cm.data["source"] == source and cm.metadata.labels["app.kubernetes.io/managed-by"] == "kgitops"
    k8s.set_inventory(source, set())
    assert k8s.get_inventory(source) == set()
    # kgitops never deletes an inventory (deploy/rbac.yaml does not grant it): the test cleans up as admin.
    k8s_admin.core.delete_namespaced_config_map(configmap_name(source), k8s.namespace)
    k8s_admin.core.delete_namespaced_config_map(configmap_name(f"{unique}-another-source"), k8s.namespace)


def test_concurrent_writers_lose_no_update(
    k8s: KubernetesBackend, kubeconfig: tuple[str, str], unique: str
) -> None:
    ref = k8s.create(job(unique)).ref
    other = KubernetesBackend(load_api_client(*kubeconfig), k8s.namespace, "bob", FAST, request_timeout=5)
    errors: list[BaseException] = []

    def writer(backend: KubernetesBackend, prefix: str) -> None:
        try:
            for i in range(8):
                backend.update_metadata(ref, labels={f"{prefix}{i}": "x"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b, p)) for b, p in ((k8s, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert not errors
    labels = k8s.get(ref).labels  # type: ignore[union-attr]
    assert {f"a{i}" for i in range(8)} | {f"b{i}" for i in range(8)} <= set(labels)
    k8s.delete(ref)


# -- the stand-in only: injected faults and outages ------------------------------------------------------
@pytest.mark.servers("standin", reason="injects 409 Conflict on demand")
def test_409_conflict_is_retried_with_a_fresh_read(k8s: KubernetesBackend, standin: StandInServer) -> None:
    ref = k8s.create(job("conflicted")).ref
    set_job_status(k8s, "conflicted", {"phase": "Running"})
    standin.inject("PUT", "/kusciajobs/conflicted", 409, count=2)
    k8s.stage(ref, Stage.SUSPEND)
    assert k8s.get(ref).labels[STAGE_LABEL] == "Suspend"  # type: ignore[union-attr]
    gets = [p for m, p in standin.requests if m == "GET" and p.endswith("/kusciajobs/conflicted")]
    assert len(gets) >= 4  # re-read after each conflict


@pytest.mark.servers("standin", reason="injects 429 and 503 on demand")
def test_429_and_5xx_are_retried_with_backoff(k8s: KubernetesBackend, standin: StandInServer) -> None:
    standin.inject("POST", "/kusciajobs", 429, count=1, retry_after=0)
    standin.inject("POST", "/kusciajobs", 503, count=2)
    started = time.monotonic()
    k8s.create(job("busy"))
    assert k8s.get(ObjectRef.of("KusciaJob", "busy")) is not None
    assert time.monotonic() - started >= 0.05  # it waited between attempts
    posts = [p for m, p in standin.requests if m == "POST"]
    assert len(posts) == 4


@pytest.mark.servers("standin", reason="an outage for longer than the retry period")
def test_a_server_that_stays_down_gives_a_clear_error(k8s: KubernetesBackend, standin: StandInServer) -> None:
    k8s.policy = RetryPolicy(initial_delay=0.05, max_delay=0.2, deadline=0.8)
    standin.stop()
    with pytest.raises(BackendError, match="cannot reach the Kubernetes API server at http://127.0.0.1"):
        k8s.get(ObjectRef.of("KusciaJob", "x"))


@pytest.mark.servers("standin", reason="an outage timed to the request being retried")
def test_calls_survive_the_api_server_restarting(k8s: KubernetesBackend, standin: StandInServer) -> None:
    k8s.create(job("before"))
    standin.stop()
    timer = threading.Timer(0.5, standin.start)
    timer.start()
    assert k8s.get(ObjectRef.of("KusciaJob", "before")) is not None  # retried until the server came back
    timer.join()


@pytest.mark.servers("standin", reason="a server with a known token (a real one's 401 is the same Status)")
def test_refused_credentials_name_the_fix(tmp_path: Path, standin: StandInServer) -> None:
    path = write_kubeconfig(str(tmp_path / "bad"), standin.url, token="wrong")
    backend = KubernetesBackend(load_api_client(path), policy=FAST)
    with pytest.raises(BackendError, match="did not accept the credentials.*HTTP 401") as refused:
        backend.list("KusciaJob")
    assert "--kubeconfig" in refused.value.hint and "--context" in refused.value.hint
    backend.close()


@pytest.mark.servers("standin", reason="reads the request log for the namespace used")
def test_from_config_reads_kubeconfig_and_context(tmp_path: Path, standin: StandInServer) -> None:
    write_kubeconfig(str(tmp_path / "kube.yaml"), standin.url, token="standin-token", context="lab")
    (tmp_path / "kgitops.yaml").write_text(
        "backend:\n  kind: kubernetes\n  kubernetes:\n    kubeconfig: kube.yaml\n    context: lab\n"
        "    namespace: team-a\n",
        encoding="utf-8",
    )
    cfg = load_config(tmp_path / "kgitops.yaml")
    backend = KubernetesBackend.from_config(cfg)
    assert backend.namespace == "team-a"
    backend.create(job("in-team-a"))
    assert ("POST", "/apis/kuscia.secretflow/v1alpha1/namespaces/team-a/kusciajobs") in standin.requests
    backend.close()

    cfg.backend.kubernetes.context = "missing"
    with pytest.raises(BackendError, match="context `missing`") as missing:
        KubernetesBackend.from_config(cfg)
    assert "--context" in missing.value.hint and "--kubeconfig" in missing.value.hint


# -- watch ----------------------------------------------------------------------------------------------
class Collector:
    def __init__(self, events: Any) -> None:
        self.events: list[WatchEvent] = []
        self.thread = threading.Thread(target=self._run, args=(events,), daemon=True)
        self.thread.start()

    def _run(self, events: Any) -> None:
        for e in events:
            self.events.append(e)

    def seen(self) -> list[tuple[str, str]]:
        return [(e.type, e.resource.name) for e in self.events]

    def wait_for(self, item: tuple[str, str]) -> None:
        eventually(lambda: item in self.seen())


def test_watch_reports_existing_then_changes(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    k8s.create(job(f"{unique}-old", {"w": unique}))
    stop = threading.Event()
    watch = k8s.open_watch(labels={"w": unique}, stop=stop, chunk_seconds=1)
    c = Collector(watch)
    c.wait_for(("ADDED", f"{unique}-old"))
    k8s.create(job(f"{unique}-new", {"w": unique}))
    k8s.create(job(f"{unique}-unwatched"))
    set_job_status(k8s_admin, f"{unique}-new", {"phase": "Running"})
    k8s.delete(ObjectRef.of("KusciaJob", f"{unique}-old"))
    c.wait_for(("DELETED", f"{unique}-old"))
    assert c.seen()[:3] == [
        ("ADDED", f"{unique}-old"),
        ("ADDED", f"{unique}-new"),
        ("MODIFIED", f"{unique}-new"),
    ]
    assert all(name != f"{unique}-unwatched" for _t, name in c.seen())
    running = [e for e in c.events if e.type == "MODIFIED"][-1].resource
    assert running.status["phase"] == "Running"
    stop.set()
    c.thread.join(5)
    assert not c.thread.is_alive()
    for name in (f"{unique}-new", f"{unique}-unwatched"):
        k8s.delete(ObjectRef.of("KusciaJob", name))


@pytest.mark.servers("standin", reason="a real server's bookmarks come a minute into a watch request")
def test_watch_follows_bookmarks(k8s: KubernetesBackend, standin: StandInServer) -> None:
    standin.bookmark_period = 0.2
    stop = threading.Event()
    watch = k8s.open_watch(labels={"w": "watched"}, stop=stop, chunk_seconds=5)
    c = Collector(watch)
    eventually(lambda: watch.resource_version != "")
    k8s.create(job("unwatched"))  # a job, but not one this watch selects
    target = str(standin.store.rv)
    eventually(lambda: int(watch.resource_version or 0) >= int(target))  # advanced by a BOOKMARK alone
    assert c.seen() == []
    stop.set()
    c.thread.join(8)


@pytest.mark.servers("standin", reason="changes objects while the server is down and compacts its history")
def test_watch_relists_after_410_gone_and_survives_restart(
    k8s: KubernetesBackend, standin: StandInServer
) -> None:
    k8s.create(job("steady"))
    k8s.create(job("doomed"))
    stop = threading.Event()
    watch = k8s.open_watch(stop=stop, chunk_seconds=1)
    c = Collector(watch)
    c.wait_for(("ADDED", "doomed"))
    assert watch.relists == 1

    # The API server goes away; meanwhile objects change and its history is compacted.
    standin.stop()
    standin.set_status("kusciajobs", "cross-domain", "steady", {"phase": "Running"})
    with standin.store.cond:
        standin.store.objects[("kusciajobs", "cross-domain")].pop("doomed")
        standin.store.bump()
    standin.compact()
    time.sleep(0.3)  # let the watch notice the outage and start backing off
    standin.start()

    c.wait_for(("DELETED", "doomed"))
    c.wait_for(("MODIFIED", "steady"))
    assert watch.relists == 2  # 410 Gone led to exactly one re-list
    k8s.create(job("after"))
    c.wait_for(("ADDED", "after"))
    stop.set()
    c.thread.join(5)
