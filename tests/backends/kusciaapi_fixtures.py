"""A ``kgitops serve`` in-process (KusciaAPI over HTTPS with mutual TLS) in front of a Kubernetes backend on
the stand-in API server, so tests can put jobs in any phase the way Kuscia's controller would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.backends.kusciaapi import KusciaAPIBackend
from reconciler.serve.http import KusciaAPIServer, TLSFiles
from reconciler.serve.service import JobService

from .certs import PKI, make_pki
from .k8s_standin import StandInServer, write_kubeconfig

TOKEN = "s3cr3t-token-value"
FAST = RetryPolicy(initial_delay=0.05, max_delay=0.3, deadline=4.0)


@dataclass
class Served:
    pki: PKI
    server: KusciaAPIServer
    standin: StandInServer
    direct: KubernetesBackend  # the served store, for playing Kuscia's controller
    state_dir: Path

    def client(self, token: str = TOKEN, **kw: str) -> KusciaAPIBackend:
        args = {"cert": str(self.pki.client_cert), "key": str(self.pki.client_key), "ca": str(self.pki.ca)}
        args.update(kw)
        return KusciaAPIBackend(self.server.url, token, state_dir=self.state_dir, timeout=10, **args)

    def set_phase(self, job_id: str, status: dict[str, object]) -> None:
        self.standin.set_status("kusciajobs", "cross-domain", job_id, status)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"), TOKEN)


@pytest.fixture
def served(pki: PKI, tmp_path: Path) -> Iterator[Served]:
    standin = StandInServer().start()
    kubeconfig = write_kubeconfig(str(tmp_path / "kubeconfig"), standin.url)

    def factory() -> KubernetesBackend:
        return KubernetesBackend(load_api_client(kubeconfig), policy=FAST, request_timeout=5)

    service = JobService(factory, "cross-domain")
    tls = TLSFiles(str(pki.server_cert), str(pki.server_key), str(pki.ca))
    server = KusciaAPIServer(
        service, "127.0.0.1", 0, tls, TOKEN, heartbeat_seconds=0.3, poll_seconds=0.05
    ).start()
    direct = factory()
    yield Served(pki, server, standin, direct, tmp_path / "state")
    server.stop()
    service.close()
    direct.close()
    standin.stop()
