"""Least privilege, proven: deploy/rbac.yaml grants every operation the Kubernetes backend performs and
nothing more. The backend's whole public surface is exercised on every kind it manages; the stand-in's request
log gives the (API group, resource, verb) of each call, which must be exactly what the Role and ClusterRole
grant. As the ServiceAccount on the real server the same exercise must pass (and the whole suite runs as
``real-sa`` too); what kgitops never needs is refused."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.model import ObjectRef, Resource, Stage

from .conftest import Server
from .k8s_rbac import DEPLOY, attributes, granted
from .k8s_standin import StandInServer
from .test_backends_kubernetes import job

EXAMPLE_APPIMAGE = DEPLOY.parent / "examples" / "appimages" / "secretflow-image.yaml"


def objects(unique: str) -> list[Resource]:
    """One object of each kind the backend manages, labelled so that a watch can select them."""
    image = Resource.from_manifest(yaml.safe_load(EXAMPLE_APPIMAGE.read_text(encoding="utf-8")))
    image.name, image.labels = f"{unique}-image", {"w": unique}
    task = Resource(
        kind="KusciaTask",
        name=f"{unique}-task",
        labels={"w": unique},
        spec={
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": image.name}],
        },
    )
    return [image, task, job(f"{unique}-job", {"w": unique})]


def exercise(k8s: KubernetesBackend, unique: str) -> None:
    """Every public operation of the Kubernetes backend, on every kind it applies to."""
    source = f"git@example.org:team/jobs.git#main/{unique}"
    for obj in objects(unique):
        created = k8s.create_managed(obj, source) if obj.kind == "KusciaJob" else k8s.create(obj)
        assert k8s.get(created.ref) is not None
        assert [r.name for r in k8s.list(obj.kind, labels={"w": unique})] == [obj.name]
        changed = copy.deepcopy(obj)
        changed.annotations = {"kgitops.io/revision": "2"}
        k8s.update(changed)
        ref = created.ref
        _watch_one_change(k8s, obj, lambda ref=ref: k8s.update_metadata(ref, labels={"seen": "yes"}))
        if obj.kind == "KusciaJob":
            k8s.stage(created.ref, Stage.STOP)
            k8s.approve(created.ref, "bob", accept=True)
    assert k8s.get_inventory(source) == {ObjectRef.of("KusciaJob", f"{unique}-job")}
    k8s.set_inventory(f"{source}-other", {ObjectRef.of("KusciaJob", "x")})
    k8s.update_inventory(f"{source}-other", remove={ObjectRef.of("KusciaJob", "x")})
    for obj in reversed(objects(unique)):
        k8s.delete(obj.ref)
        assert k8s.get(obj.ref) is None


def _watch_one_change(k8s: KubernetesBackend, obj: Resource, change: Callable[[], None]) -> None:
    """Open a watch (a list, then a watch request), see the object, make a change, see it arrive."""
    stop = threading.Event()
    events = iter(k8s.watch(obj.kind, labels={"w": obj.labels["w"]}, stop=stop, chunk_seconds=2))
    assert next(events).type == "ADDED"
    change()
    assert next(events).type == "MODIFIED"
    stop.set()


@pytest.mark.servers("standin", reason="reads the request log (a real server keeps none we can read)")
def test_rbac_grants_exactly_what_the_backend_uses(
    k8s: KubernetesBackend, standin: StandInServer, unique: str
) -> None:
    exercise(k8s, unique)
    used = {attributes(m, p, q) for (m, p), q in zip(standin.requests, standin.queries, strict=True)}
    # the Lease of leader election (watch replicas) is not the backend's: test_backends_k8s_lease.py proves it
    grants = {g for g in granted() if g[0] != "coordination.k8s.io"}
    assert sorted(used - grants) == [], "deploy/rbac.yaml lacks what the backend needs"
    assert sorted(grants - used) == [], "deploy/rbac.yaml grants what the backend never uses"


@pytest.mark.servers("real-sa", reason="the deploy/rbac.yaml ServiceAccount on the real API server")
def test_the_service_account_may_do_everything_the_backend_does(k8s: KubernetesBackend, unique: str) -> None:
    exercise(k8s, unique)


@pytest.mark.servers("real-sa", reason="the real API server's RBAC authorizer decides")
def test_the_service_account_is_refused_what_kgitops_never_needs(server: Server, unique: str) -> None:
    api = load_api_client(server.kubeconfig)
    core, rbac = k8s_client.CoreV1Api(api), k8s_client.RbacAuthorizationV1Api(api)
    custom = k8s_client.CustomObjectsApi(api)
    refused: dict[str, Callable[[], object]] = {
        "delete the namespace": lambda: core.delete_namespace("cross-domain"),
        "read Secrets": lambda: core.list_namespaced_secret("cross-domain"),
        "read the Git key": lambda: core.read_namespaced_secret("kgitops-git", "cross-domain"),
        "list ConfigMaps": lambda: core.list_namespaced_config_map("cross-domain"),
        "delete a ConfigMap": lambda: core.delete_namespaced_config_map(f"{unique}-cm", "cross-domain"),
        "create Pods": lambda: core.create_namespaced_pod("cross-domain", {"metadata": {"name": unique}}),
        "grant itself more": lambda: rbac.create_namespaced_role(
            "cross-domain", {"metadata": {"name": unique}, "rules": []}
        ),
        "touch another namespace": lambda: custom.list_namespaced_custom_object(
            "kuscia.secretflow", "v1alpha1", "default", "kusciajobs"
        ),
        "patch a job": lambda: custom.patch_namespaced_custom_object(
            "kuscia.secretflow", "v1alpha1", "cross-domain", "kusciajobs", unique, {"metadata": {}}
        ),
    }
    allowed = []
    for what, attempt in refused.items():
        try:
            attempt()
            allowed.append(what)
        except ApiException as exc:
            if exc.status != 403:
                allowed.append(f"{what} (HTTP {exc.status}, not 403)")
    api.close()
    assert allowed == []
