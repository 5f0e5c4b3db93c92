"""Fixtures for the Kubernetes and KusciaAPI backends.

``k8s`` is a KubernetesBackend on the stand-in API server, or on a real cluster when
``KGITOPS_TEST_KUBECONFIG`` names a kubeconfig (with Kuscia's CRDs installed; optional
``KGITOPS_TEST_CONTEXT``, ``KGITOPS_TEST_NAMESPACE``). Tests that need to break the server
(faults, restarts, compaction) ask for ``standin`` and skip on a real cluster.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client

from .k8s_standin import StandInServer, write_kubeconfig
from .kusciaapi_fixtures import pki, served  # noqa: F401 - fixtures for the KusciaAPI tests

REAL_KUBECONFIG = os.environ.get("KGITOPS_TEST_KUBECONFIG", "")
FAST = RetryPolicy(initial_delay=0.05, max_delay=0.3, deadline=4.0)


@pytest.fixture
def standin_server() -> Iterator[StandInServer]:
    server = StandInServer(token="standin-token", bookmark_interval=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server: StandInServer) -> StandInServer:
    if REAL_KUBECONFIG:
        pytest.skip("needs the stand-in API server (injects faults); KGITOPS_TEST_KUBECONFIG is set")
    return standin_server


@pytest.fixture
def kubeconfig(tmp_path: Path, standin_server: StandInServer) -> tuple[str, str]:
    if REAL_KUBECONFIG:
        return REAL_KUBECONFIG, os.environ.get("KGITOPS_TEST_CONTEXT", "")
    path = write_kubeconfig(str(tmp_path / "kubeconfig"), standin_server.url, token="standin-token")
    return path, "standin"


@pytest.fixture
def k8s(kubeconfig: tuple[str, str]) -> Iterator[KubernetesBackend]:
    path, context = kubeconfig
    ns = os.environ.get("KGITOPS_TEST_NAMESPACE", "cross-domain")
    backend = KubernetesBackend(load_api_client(path, context), ns, "alice", FAST, request_timeout=5)
    yield backend
    backend.close()


@pytest.fixture
def unique() -> str:
    """A name prefix, so runs against a real cluster do not collide."""
    return f"kt{uuid.uuid4().hex[:8]}"


def set_job_status(backend: KubernetesBackend, name: str, status: dict[str, Any]) -> None:
    """Play Kuscia's controller: write a job's status through the status subresource (works on any server)."""
    from reconciler.backends.k8s.objects import GROUP, VERSION

    doc = backend.custom.get_namespaced_custom_object(GROUP, VERSION, backend.namespace, "kusciajobs", name)
    doc["status"] = status
    backend.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, backend.namespace, "kusciajobs", name, doc
    )
