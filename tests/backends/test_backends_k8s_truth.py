"""Where a real kube-apiserver surprised us, on every server: the stand-in must behave the same, and the
backend must cope with it (Kubernetes API concepts, "Efficient detection of changes"; CRD field pruning).

- bookmarks are rare and carry only the watched resource's revision;
- 410 Gone follows any API server restart, not just compaction;
- an object that stops matching a watch's label selector arrives as DELETED;
- fields the CRD's schema does not declare are dropped;
- a custom resource's update without a resourceVersion is refused.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from reconciler.backends.base import Invalid
from reconciler.backends.k8s.objects import GROUP, VERSION
from reconciler.backends.kubernetes import KubernetesBackend
from reconciler.model import ObjectRef

from .conftest import Server, set_job_status
from .test_backends_kubernetes import Collector, eventually, job


def _configmap(backend: KubernetesBackend, name: str) -> str:
    """Write an unrelated ConfigMap (something on a cluster always writes); its resourceVersion."""
    cm = backend.core.create_namespaced_config_map(
        backend.namespace, {"metadata": {"name": name}, "data": {"k": "v"}}
    )
    return str(cm.metadata.resource_version)


def _raw_watch(backend: KubernetesBackend, labels: str, rv: str, seconds: int) -> list[dict[str, Any]]:
    """Every event of one watch request of KusciaJobs from ``rv`` until the server ends it (timeoutSeconds)"""
    stream = k8s_watch.Watch().stream(
        backend.custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        backend.namespace,
        "kusciajobs",
        label_selector=labels,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=seconds,
        _request_timeout=(5, seconds + 10),
    )
    return [{"type": e["type"], "rv": e["raw_object"]["metadata"]["resourceVersion"]} for e in stream]


def test_bookmarks_are_rare_and_carry_only_the_watched_resources_version(
    server: Server, k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    # kube-apiserver 1.20 sends a BOOKMARK a minute into a watch request (then each minute, and 2 s before a
    # longer timeoutSeconds), observed with a 75 s request; a short request gets none.
    listed = k8s.custom.list_namespaced_custom_object(
        GROUP, VERSION, k8s.namespace, "kusciajobs", label_selector=f"w={unique}"
    )
    since = listed["metadata"]["resourceVersion"]
    cm_rv = _configmap(k8s_admin, f"{unique}-cm")
    try:
        assert _raw_watch(k8s, f"w={unique}", since, seconds=4) == []
        if server.standin is not None:  # what one carries (the real server's come a minute into a request)
            server.standin.bookmark_period = 1
            bookmarks = _raw_watch(k8s, f"w={unique}", since, seconds=3)
            assert bookmarks and {b["type"] for b in bookmarks} == {"BOOKMARK"}
            assert all(int(b["rv"]) < int(cm_rv) for b in bookmarks), (cm_rv, bookmarks)  # not a ConfigMap's
            server.standin.bookmark_period = 60
    finally:
        k8s_admin.core.delete_namespaced_config_map(f"{unique}-cm", k8s.namespace)

    # The backend's watch does not need them: with only unrelated writes for several watch requests, it
    # reports nothing, keeps its one list, and then sees the next job.
    stop = threading.Event()
    watch = k8s.open_watch(labels={"w": unique}, stop=stop, chunk_seconds=1)
    c = Collector(watch)
    eventually(lambda: watch.resource_version != "")
    for i in range(3):
        _configmap(k8s_admin, f"{unique}-cm{i}")
        k8s_admin.core.delete_namespaced_config_map(f"{unique}-cm{i}", k8s.namespace)
    k8s.create(job(unique, {"w": unique}))
    c.wait_for(("ADDED", unique))
    assert c.seen() == [("ADDED", unique)] and watch.relists == 1
    stop.set()
    c.thread.join(5)


@pytest.mark.servers("standin", "real", reason="restarts the API server (as the tools' owner, not as the SA)")
def test_410_gone_follows_any_api_server_restart(
    server: Server, k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    labels = {"w": unique}
    k8s.create(job(f"{unique}-steady", labels))
    k8s.create(job(f"{unique}-doomed", labels))
    stop = threading.Event()
    watch = k8s.open_watch(labels=labels, stop=stop, chunk_seconds=1)
    c = Collector(watch)
    c.wait_for(("ADDED", f"{unique}-doomed"))
    assert watch.relists == 1
    _configmap(k8s_admin, f"{unique}-cm")  # the cluster moves on past the watch's resourceVersion
    before = watch.resource_version

    if server.standin is not None:
        server.standin.stop()
        server.standin.start()
    else:
        server.real.restart()
    # Nothing was compacted, yet the restarted server's watch cache starts at the current revision.
    with pytest.raises(ApiException) as gone:
        _raw_watch(k8s_admin, f"w={unique}", before, seconds=2)
    assert gone.value.status == 410

    k8s.delete(ObjectRef.of("KusciaJob", f"{unique}-doomed"))
    set_job_status(k8s_admin, f"{unique}-steady", {"phase": "Running"})
    c.wait_for(("DELETED", f"{unique}-doomed"))
    c.wait_for(("MODIFIED", f"{unique}-steady"))
    assert watch.relists == 2  # the backend's watch re-listed once and carried on
    stop.set()
    c.thread.join(5)
    k8s_admin.core.delete_namespaced_config_map(f"{unique}-cm", k8s.namespace)


def test_an_object_that_stops_matching_the_selector_arrives_as_deleted(
    k8s: KubernetesBackend, unique: str
) -> None:
    ref = k8s.create(job(unique, {"w": unique})).ref
    stop = threading.Event()
    c = Collector(k8s.open_watch(labels={"w": unique}, stop=stop, chunk_seconds=1))
    c.wait_for(("ADDED", unique))
    moved = k8s.update_metadata(ref, labels={"w": "elsewhere"})
    c.wait_for(("DELETED", unique))
    k8s.update_metadata(ref, labels={"w": unique})
    eventually(lambda: len(c.seen()) == 3)
    assert c.seen() == [("ADDED", unique), ("DELETED", unique), ("ADDED", unique)]  # it matches again
    deleted = [e for e in c.events if e.type == "DELETED"][0].resource
    assert deleted.labels["w"] == unique  # the object as it was when it last matched ...
    assert deleted.resource_version == moved.resource_version  # ... at the change's resourceVersion
    stop.set()
    c.thread.join(5)


def test_fields_the_crd_does_not_declare_are_dropped(k8s: KubernetesBackend, unique: str) -> None:
    body = job(unique).to_manifest(with_status=False)
    body["metadata"]["namespace"] = k8s.namespace
    body["spec"]["priority"] = 7  # not in KusciaJob's schema
    body["spec"]["tasks"][0]["retries"] = 3  # nor in a task's
    stored = k8s.custom.create_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciajobs", body)
    assert "priority" not in stored["spec"] and "retries" not in stored["spec"]["tasks"][0]
    got = k8s.get(ObjectRef.of("KusciaJob", unique))
    assert got is not None and "priority" not in got.spec and got.spec["tasks"][0]["alias"] == "psi"

    # So kgitops refuses them before sending, naming the field, instead of losing them silently.
    sent = job(f"{unique}-b")
    sent.spec["priority"] = 7
    with pytest.raises(Invalid, match="priority"):
        k8s.create(sent)
    assert k8s.get(sent.ref) is None


def test_an_update_without_a_resource_version_is_refused(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    k8s.create(job(unique))
    doc = k8s.custom.get_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciajobs", unique)
    del doc["metadata"]["resourceVersion"]
    doc["spec"]["maxParallelism"] = 2
    with pytest.raises(ApiException) as refused:
        k8s.custom.replace_namespaced_custom_object(GROUP, VERSION, k8s.namespace, "kusciajobs", unique, doc)
    assert refused.value.status == 422 and "resourceVersion" in str(refused.value.body)

    changed = job(unique)
    changed.spec["maxParallelism"] = 2
    k8s.update(changed)  # the backend always writes what it read, resourceVersion included
    got = k8s.get(changed.ref)
    assert got is not None and got.spec["maxParallelism"] == 2

    # A ConfigMap (a core object, like the inventory) may be replaced unconditionally.
    name = f"{unique}-cm"
    _configmap(k8s, name)
    try:
        replaced = k8s.core.replace_namespaced_config_map(
            name, k8s.namespace, {"metadata": {"name": name}, "data": {"k": "w"}}
        )
        assert replaced.data == {"k": "w"}
    finally:
        k8s_admin.core.delete_namespaced_config_map(name, k8s.namespace)
