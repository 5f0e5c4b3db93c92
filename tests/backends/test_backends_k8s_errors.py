"""Errors of the Kubernetes backend name the real cause and the fix, at once (no retrying of what cannot
succeed): a refused connection, a host name that does not resolve, an untrusted certificate, refused
credentials, missing permissions, a missing namespace, Kuscia's CRDs not installed.

Tests without a server make their own failure (a closed port, an unresolvable name, a TLS server with an
unknown certificate); the others run on the API servers of ``conftest.py`` (what only a real server can
produce, its certificates, RBAC, namespaces and CRDs, on the real one). Every call runs with the default retry
policy (30 s): the error must come well before it would have run out.
"""

from __future__ import annotations

import base64
import http.server
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.backends.base import BackendError, NotFound
from reconciler.backends.k8s.errors import ClusterError
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.config import load_config
from reconciler.model import ObjectRef, Resource

from .certs import PKI
from .conftest import Server
from .k8s_standin import StandInServer, write_kubeconfig

BUDGET = RetryPolicy().deadline  # what a retried failure would take
AT_ONCE = 10.0  # seconds: "at once", with room for a loaded machine


def quick(fn: Callable[[], Any]) -> ClusterError:
    """Run ``fn``, which must fail with a ClusterError well within the retry budget; return the error."""
    started = time.monotonic()
    with pytest.raises(ClusterError) as caught:
        fn()
    took = time.monotonic() - started
    assert took < AT_ONCE < BUDGET, f"took {took:.1f}s: retried what cannot succeed"
    assert caught.value.exit_code == 2 and caught.value.hint
    return caught.value


def backend_for(path: str, context: str = "") -> KubernetesBackend:
    """As ``kgitops`` builds it: from a config naming the kubeconfig and context (default retry policy)."""
    cfg_path = Path(path).with_suffix(".kgitops.yaml")
    kube = {"kubeconfig": path, "context": context}
    cfg_path.write_text(yaml.safe_dump({"backend": {"kind": "kubernetes", "kubernetes": kube}}))
    return KubernetesBackend.from_config(load_config(cfg_path))


def derive(
    source: str, context: str, target: Path, cluster: dict[str, Any], user: dict[str, Any] | None
) -> str:
    """A copy of kubeconfig ``source`` whose ``context`` has ``cluster`` fields changed (None deletes) and,
    if given, ``user`` as its whole user entry."""
    doc = yaml.safe_load(Path(source).read_text())
    name = context or doc["current-context"]
    ctx = next(c for c in doc["contexts"] if c["name"] == name)["context"]
    entry = next(c for c in doc["clusters"] if c["name"] == ctx["cluster"])["cluster"]
    for key, value in cluster.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    if user is not None:
        next(u for u in doc["users"] if u["name"] == ctx["user"])["user"] = user
    doc["current-context"] = name
    target.write_text(yaml.safe_dump(doc))
    return str(target)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job(name: str, namespace: str = "cross-domain") -> Resource:
    return Resource(
        kind="KusciaJob",
        name=name,
        namespace=namespace,
        spec={
            "initiator": "alice",
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


def kgitops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)], capture_output=True, text=True, timeout=120
    )


# -- no answer: everywhere ------------------------------------------------------------------------------
def test_a_refused_connection_is_reported_at_once(tmp_path: Path) -> None:
    path = write_kubeconfig(str(tmp_path / "kube.yaml"), f"http://127.0.0.1:{closed_port()}", token="t")
    error = quick(lambda: backend_for(path).list("KusciaJob"))
    assert "cannot reach the Kubernetes API server at http://127.0.0.1" in error.message
    assert "connection refused" in error.message and "context standin" in error.message
    assert "--kubeconfig" in error.hint and "--context" in error.hint


def test_the_cli_prints_the_cause_and_the_hint_with_exit_code_2(tmp_path: Path) -> None:
    path = write_kubeconfig(str(tmp_path / "kube.yaml"), f"http://127.0.0.1:{closed_port()}", token="t")
    done = kgitops("job", "list", "--backend", "kubernetes", "--kubeconfig", path, "--context", "standin")
    assert done.returncode == 2, done.stderr
    assert "error: cannot list jobs: cannot reach the Kubernetes API server" in done.stderr
    assert "connection refused" in done.stderr
    assert "hint: start the API server" in done.stderr and "Traceback" not in done.stderr
    missing = kgitops("job", "list", "--backend", "kubernetes", "--kubeconfig", path, "--context", "nope")
    assert missing.returncode == 2 and "context `nope`" in missing.stderr
    assert "hint:" in missing.stderr and "--context" in missing.stderr and "Traceback" not in missing.stderr


def test_a_host_name_that_does_not_resolve_is_reported_at_once(tmp_path: Path) -> None:
    server = "https://kgitops-no-such-host.invalid:6443"
    path = write_kubeconfig(str(tmp_path / "kube.yaml"), server, token="t")
    error = quick(lambda: backend_for(path).list("KusciaJob"))
    assert "cannot resolve kgitops-no-such-host.invalid" in error.message
    assert "server:" in error.hint


class _TLSServer:
    """An HTTPS server on 127.0.0.1 with the test PKI's server certificate (signed by ``pki.ca``)."""

    def __init__(self, pki: PKI) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = b'{"kind": "KusciaJobList", "items": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_server(pki: PKI) -> Iterator[_TLSServer]:
    server = _TLSServer(pki)
    yield server
    server.close()


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.mark.parametrize("ca", ["wrong", "missing"])
def test_an_untrusted_certificate_is_reported_at_once(
    tmp_path: Path, pki: PKI, tls_server: _TLSServer, ca: str
) -> None:
    path = write_kubeconfig(str(tmp_path / "kube.yaml"), tls_server.url, token="t")
    wrong = {"certificate-authority-data": _b64(pki.rogue_cert)} if ca == "wrong" else {}
    path = derive(path, "standin", tmp_path / "tls.yaml", wrong, None)
    error = quick(lambda: backend_for(path).list("KusciaJob"))
    assert f"the Kubernetes API server at {tls_server.url} presented a certificate" in error.message
    assert "certificate verify failed" in error.message or "unable to get local issuer" in error.message
    assert "certificate-authority-data" in error.hint
    right = {"certificate-authority-data": _b64(pki.ca)}
    trusted = derive(path, "standin", tmp_path / "ok.yaml", right, None)
    assert backend_for(trusted).list("KusciaJob") == []  # the right CA: the same server answers


# -- HTTP answers: both servers -------------------------------------------------------------------------
def test_refused_credentials_name_the_kubeconfig_user(tmp_path: Path, kubeconfig: tuple[str, str]) -> None:
    path, context = kubeconfig
    bad = derive(path, context, tmp_path / "bad.yaml", {}, {"token": "not-a-valid-token"})
    user = next(
        c["context"]["user"]
        for c in yaml.safe_load(Path(bad).read_text())["contexts"]
        if c["name"] == (context or yaml.safe_load(Path(bad).read_text())["current-context"])
    )
    error = quick(lambda: backend_for(bad, context).list("KusciaJob"))
    assert f"did not accept the credentials of kubeconfig user {user}" in error.message
    assert "HTTP 401" in error.message and "fresh kubeconfig" in error.hint


@pytest.mark.servers("standin", reason="injects a 403 whose Status names no user (the real one is below)")
def test_missing_permission_names_the_user_verb_and_resource(standin: StandInServer, tmp_path: Path) -> None:
    path = write_kubeconfig(str(tmp_path / "kube.yaml"), standin.url, token="standin-token")
    standin.inject("GET", "/kusciajobs", 403)
    error = quick(lambda: backend_for(path, "standin").list("KusciaJob"))
    assert "may not list kusciajobs in API group kuscia.secretflow" in error.message
    assert 'namespace "cross-domain"' in error.message and "deploy/rbac.yaml" in error.hint
    assert [m for m, p in standin.requests if p.endswith("/kusciajobs")] == ["GET"]  # asked once


@pytest.mark.servers("real-sa", reason="the deploy/rbac.yaml ServiceAccount, refused outside its namespace")
def test_missing_permission_on_the_real_server_names_the_service_account(kubeconfig: tuple[str, str]) -> None:
    backend = KubernetesBackend(load_api_client(*kubeconfig), "kube-system")
    error = quick(lambda: backend.list("KusciaJob"))
    assert "system:serviceaccount:cross-domain:kgitops may not list kusciajobs" in error.message
    assert 'in namespace "kube-system"' in error.message and "deploy/rbac.yaml" in error.hint


@pytest.mark.servers("real", reason="the stand-in speaks plain HTTP (the TLS case is above, on a TLS server)")
def test_a_wrong_certificate_authority_on_the_real_server(
    tmp_path: Path, kubeconfig: tuple[str, str], pki: PKI
) -> None:
    path, context = kubeconfig
    wrong = derive(path, context, tmp_path / "ca.yaml", {"certificate-authority-data": _b64(pki.ca)}, None)
    error = quick(lambda: backend_for(wrong, context).list("KusciaJob"))
    assert "presented a certificate kgitops does not trust" in error.message


@pytest.mark.servers("real", reason="the stand-in has no namespaces; the ServiceAccount may not read them")
def test_a_missing_namespace_is_named(
    k8s: KubernetesBackend, unique: str, kubeconfig: tuple[str, str]
) -> None:
    namespace = f"{unique}-absent"
    error = quick(lambda: k8s.create(job(f"{unique}-j", namespace)))
    assert f'namespace "{namespace}" does not exist' in error.message
    assert f"kubectl create namespace {namespace}" in error.hint and "--namespace" in error.hint
    again = quick(lambda: k8s.get(ObjectRef.of("KusciaJob", "anything", namespace)))
    assert f'namespace "{namespace}" does not exist' in again.message
    assert k8s.get(ObjectRef.of("KusciaJob", f"{unique}-none")) is None  # a missing job is still just missing
    path, context = kubeconfig
    args = ["--backend", "kubernetes", "--kubeconfig", path] + (["--context", context] if context else [])
    done = kgitops("job", "show", "anything", "-n", namespace, *args)
    assert done.returncode == 2 and "error: cannot read job anything" in done.stderr
    assert f'namespace "{namespace}" does not exist' in done.stderr
    assert "hint: create it" in done.stderr and "Traceback" not in done.stderr


CRD = "appimages.kuscia.secretflow"


@pytest.fixture
def without_appimage_crd(k8s_admin: KubernetesBackend, server: Server) -> Iterator[None]:
    """Kuscia's AppImage CRD removed as admin for the test, then put back as it was."""
    from kubernetes import client as k8s_client

    assert server.real is not None, "removes a CRD of a real server"
    k8s = k8s_admin
    ext = k8s_client.ApiextensionsV1Api(k8s.api_client)
    saved = k8s.api_client.sanitize_for_serialization(ext.read_custom_resource_definition(CRD))
    saved.pop("status", None)
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        saved["metadata"].pop(key, None)
    ext.delete_custom_resource_definition(CRD)
    _until(lambda: _absent(ext, CRD))
    try:
        yield
    finally:
        ext.create_custom_resource_definition(saved)
        _until(lambda: _served(k8s))


def _absent(ext: Any, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        ext.read_custom_resource_definition(name)
    except ApiException as exc:
        return exc.status == 404
    return False


def _served(k8s: KubernetesBackend) -> bool:
    try:
        k8s.list("AppImage")
    except BackendError:
        return False
    return True


def _until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.mark.servers("real", reason="the stand-in serves every kind; the CRD is removed as admin")
@pytest.mark.usefixtures("without_appimage_crd")
def test_a_missing_crd_is_named_with_the_command_that_installs_it(k8s: KubernetesBackend) -> None:
    def listing_fails() -> bool:  # the API server stops serving the type a moment after the delete
        try:
            k8s.list("AppImage")
        except ClusterError:
            return True
        return False

    _until(listing_fails)
    error = quick(lambda: k8s.list("AppImage"))
    assert f"Kuscia's CRD {CRD} is not installed" in error.message and "AppImage list" in error.message
    assert (
        "kubectl apply -f https://github.com/secretflow/kuscia/raw/main/crds/v1alpha1/"
        "kuscia.secretflow_appimages.yaml" in error.hint
    )
    got = quick(lambda: k8s.get(ObjectRef.of("AppImage", "secretflow-image")))  # not "not found"
    assert f"Kuscia's CRD {CRD} is not installed" in got.message
    with pytest.raises(NotFound):  # the other kinds are served as before
        k8s._get_raw(ObjectRef.of("KusciaJob", "no-such-job"))
