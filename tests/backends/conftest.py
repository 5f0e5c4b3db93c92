"""Fixtures for the Kubernetes and KusciaAPI backends.

Every test that uses ``k8s`` (or ``server``) runs once per API server:

- ``standin``: the stand-in API server (``k8s_standin.py``), a fresh one per test;
- ``real``: the session's real kube-apiserver (``real_k8s`` in ``tests/conftest.py``), as an admin;
- ``real-sa``: the same server as the ``deploy/rbac.yaml`` ServiceAccount, so that every operation the tests
  perform is one the Role grants (applied as admin for the session, removed at its end).

Tests that need what only the stand-in can do on demand (injected 409/429/5xx, outages) say so with
``@pytest.mark.servers("standin", reason=...)``. On the real servers, names start with ``unique`` and
whatever a test leaves behind under that prefix is deleted as admin when it ends.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from reconciler.backends.base import NotFound
from reconciler.backends.k8s.inventory import MANAGED_BY
from reconciler.backends.k8s.objects import GROUP, KIND_INFO, VERSION
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client

from .k8s_rbac import apply_rbac
from .k8s_standin import StandInServer, write_kubeconfig
from .kusciaapi_fixtures import pki, served  # noqa: F401 - fixtures for the KusciaAPI tests

SERVERS = ("standin", "real", "real-sa")
NAMESPACE = os.environ.get("KGITOPS_TEST_NAMESPACE", "cross-domain")
FAST = RetryPolicy(initial_delay=0.05, max_delay=0.3, deadline=4.0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "servers(*ids, reason): run only on these API servers (standin, real, real-sa), and why"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("servers")
    ids = list(marker.args) if marker else list(SERVERS)
    assert marker is None or marker.kwargs.get("reason"), "@pytest.mark.servers needs a reason"
    metafunc.parametrize("server", ids, indirect=True)


@dataclass
class Server:
    """One API server as a test sees it: the credentials of the backend under test and an admin's."""

    id: str  # standin | real | real-sa
    kubeconfig: str
    context: str
    admin_kubeconfig: str
    standin: StandInServer | None = None
    real: Any = None  # the session's RealCluster (tests/conftest.py) on real and real-sa


@pytest.fixture(scope="session")
def rbac_applied(real_k8s: Any) -> Iterator[Any]:
    """deploy/rbac.yaml applied as admin for the session. It is left in place at the end: the server may be
    shared by another test session on the same machine (it is reused, see docs/testing.md), whose
    ServiceAccount tests would lose their permissions mid-run; applying it again is idempotent."""
    if not real_k8s.sa_kubeconfig:
        pytest.skip("no ServiceAccount kubeconfig: set KGITOPS_K8S_SA_KUBECONFIG (tools/k8s/up prints it)")
    admin = load_api_client(real_k8s.kubeconfig)
    apply_rbac(admin)
    yield real_k8s
    admin.close()


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    kind = str(request.param)
    if kind == "standin":
        standin = StandInServer(token="standin-token").start()
        path = write_kubeconfig(str(tmp_path / "kubeconfig"), standin.url, token="standin-token")
        yield Server(kind, path, "standin", path, standin=standin)
        standin.stop()
        return
    real = request.getfixturevalue("real_k8s")
    context = os.environ.get("KGITOPS_TEST_CONTEXT", "")
    if kind == "real-sa":
        request.getfixturevalue("rbac_applied")
        yield Server(kind, real.sa_kubeconfig, "", real.kubeconfig, real=real)
    else:
        yield Server(kind, real.kubeconfig, context, real.kubeconfig, real=real)


@pytest.fixture
def standin(server: Server) -> StandInServer:
    assert server.standin is not None, "mark the test @pytest.mark.servers('standin', reason=...)"
    return server.standin


@pytest.fixture
def kubeconfig(server: Server) -> tuple[str, str]:
    return server.kubeconfig, server.context


@pytest.fixture
def unique() -> str:
    """A name prefix, so runs against a real cluster do not collide."""
    return f"kt{uuid.uuid4().hex[:8]}"


@pytest.fixture
def k8s_admin(server: Server, unique: str) -> Iterator[KubernetesBackend]:
    """An admin's backend on the same server: plays Kuscia's controllers, and cleans up after the test."""
    backend = KubernetesBackend(
        load_api_client(server.admin_kubeconfig, server.context), NAMESPACE, "alice", FAST, request_timeout=5
    )
    yield backend
    if server.real is not None:
        clean_up(backend, unique)
    backend.close()


@pytest.fixture
def k8s(server: Server, k8s_admin: KubernetesBackend) -> Iterator[KubernetesBackend]:
    """The backend under test, with the server's credentials (the ServiceAccount's on ``real-sa``)."""
    backend = KubernetesBackend(
        load_api_client(server.kubeconfig, server.context), NAMESPACE, "alice", FAST, request_timeout=5
    )
    yield backend
    backend.close()


def clean_up(admin: KubernetesBackend, prefix: str) -> None:
    """Delete, as admin, the Kuscia objects named ``prefix...`` and the inventories of sources naming it."""
    for info in KIND_INFO.values():
        for obj in admin.list(info.kind, labels=None):
            if obj.name.startswith(prefix):
                with contextlib.suppress(NotFound):  # gone meanwhile (the garbage collector is quicker)
                    admin.delete(obj.ref)
    selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    for cm in admin.core.list_namespaced_config_map(admin.namespace, label_selector=selector).items:
        if prefix in (cm.data or {}).get("source", ""):
            try:
                admin.core.delete_namespaced_config_map(cm.metadata.name, admin.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise


def set_job_status(backend: KubernetesBackend, name: str, status: dict[str, Any]) -> None:
    """Play Kuscia's controller: write a job's status through the status subresource (works on any server)."""
    doc = backend.custom.get_namespaced_custom_object(GROUP, VERSION, backend.namespace, "kusciajobs", name)
    doc["status"] = status
    backend.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, backend.namespace, "kusciajobs", name, doc
    )
