"""Leader election's Lease on the real API server, as an admin and as the ``deploy/rbac.yaml`` ServiceAccount:
two electors acquire, renew, race (one 409), release and take over with exactly the verbs the Role grants on
``leases`` (get, create, update); what election never needs (list, watch, delete, patch) is refused."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from reconciler.backends.k8s.election import LeaseRecord, Timing
from reconciler.backends.k8s.lease import LeaseClient, LeaseElector, LostRace
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client

from .conftest import NAMESPACE, Server
from .k8s_rbac import granted

TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)
LEASE_GRANTS = {("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update")}


class Recording:
    """A LeaseClient that notes the verb of each request it makes."""

    def __init__(self, client: LeaseClient) -> None:
        self.client = client
        self.verbs: set[str] = set()

    def describe(self) -> str:
        return self.client.describe()

    def get(self) -> tuple[LeaseRecord, str] | None:
        self.verbs.add("get")
        return self.client.get()

    def create(self, record: LeaseRecord) -> str:
        self.verbs.add("create")
        return self.client.create(record)

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        self.verbs.add("update")
        return self.client.update(record, resource_version)


@pytest.mark.servers("real", "real-sa", reason="the stand-in serves no Leases (coordination.k8s.io)")
def test_electors_acquire_race_release_and_take_over_with_the_granted_verbs(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, unique: str
) -> None:
    name = f"{unique}-leader"
    store = Recording(LeaseClient(k8s.api_client, NAMESPACE, name))
    try:
        a, b = LeaseElector(store, "a", TIMING), LeaseElector(store, "b", TIMING)
        assert a.tick() and not b.tick() and b.following() == "a"  # create, then b reads it held
        assert a.tick()  # renew
        got = store.get()
        assert got is not None and got[0].holder_identity == "a"
        # a stale resourceVersion loses: 409 Conflict, reported as a lost race
        with pytest.raises(LostRace):
            store.update(LeaseRecord("b", 15), "1")
        with pytest.raises(LostRace):  # and a second create finds it there
            store.create(LeaseRecord("b", 15))
        a.end()  # release: b takes it at once, not after 15 s
        assert b.tick() and b.leading()
        got = store.get()
        assert got is not None and got[0].holder_identity == "b" and got[0].lease_transitions == 1
        assert {("coordination.k8s.io", "leases", v) for v in store.verbs} == LEASE_GRANTS
        # deploy/rbac.yaml grants exactly these on leases
        assert {g for g in granted() if g[0] == "coordination.k8s.io"} == LEASE_GRANTS
    finally:
        with contextlib.suppress(ApiException):
            k8s_client.CoordinationV1Api(k8s_admin.api_client).delete_namespaced_lease(name, NAMESPACE)


@pytest.mark.servers("real-sa", reason="the real API server's RBAC authorizer decides")
def test_the_service_account_may_not_list_watch_delete_or_patch_leases(server: Server, unique: str) -> None:
    api = load_api_client(server.kubeconfig)
    leases = k8s_client.CoordinationV1Api(api)
    refused: dict[str, Callable[[], object]] = {
        "list Leases": lambda: leases.list_namespaced_lease(NAMESPACE),
        "watch Leases": lambda: leases.list_namespaced_lease(NAMESPACE, watch=True, timeout_seconds=1),
        "delete a Lease": lambda: leases.delete_namespaced_lease(unique, NAMESPACE),
        "patch a Lease": lambda: leases.patch_namespaced_lease(unique, NAMESPACE, {"metadata": {}}),
        "Leases in another namespace": lambda: leases.read_namespaced_lease(unique, "default"),
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
