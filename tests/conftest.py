"""Shared fixtures. Tests that need ``../shared`` (reference material beside the repo) skip without it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"reference material not found at {SHARED} (only CI and developers have ../shared)")
    return SHARED


def require_shared() -> Path:
    """For module-level parametrisation: the shared dir, or a skip."""
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"reference material not found at {SHARED}", allow_module_level=True)
    return SHARED


# -- the real-cluster tier ---------------------------------------------------------------------------------
# A real kube-apiserver (with etcd and the garbage collector) from ../shared/tools/k8s, started once per test
# session by `up` (it builds the binaries the first time, then is idempotent) and left running for the next
# run (`../shared/tools/k8s/down` stops it). KGITOPS_TEST_KUBECONFIG, when set, names a cluster to use
# instead. Without either the real tier skips with the reason; KGITOPS_REQUIRE_REAL_K8S=1 (CI) turns that skip
# into a failure.
K8S_TOOLS = SHARED / "tools" / "k8s"
REQUIRE_REAL_K8S = os.environ.get("KGITOPS_REQUIRE_REAL_K8S", "") == "1"
UP_TIMEOUT = 1800  # seconds: the first `up` builds kube-apiserver from source (about 4 minutes on 2 cores)


@dataclass(frozen=True)
class RealCluster:
    """A real API server: ``kubeconfig`` is an admin's (group system:masters), ``sa_kubeconfig`` the
    ``deploy/rbac.yaml`` ServiceAccount's token ('' when unknown); ``home`` is the KGITOPS_K8S_HOME of a
    ../shared/tools/k8s server (then it can be restarted), '' for a cluster of someone else's."""

    kubeconfig: str
    sa_kubeconfig: str
    home: str

    def restart(self) -> None:
        """`down` then `up`: the same ports, certificates and etcd data, a new kube-apiserver process."""
        if not self.home:
            pytest.skip("restarts only a ../shared/tools/k8s server; KGITOPS_TEST_KUBECONFIG names another")
        env = {**os.environ, "KGITOPS_K8S_HOME": self.home}
        subprocess.run([str(K8S_TOOLS / "down")], env=env, check=True, capture_output=True, timeout=120)
        up = subprocess.run([str(K8S_TOOLS / "up")], env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, f"{K8S_TOOLS / 'up'} failed after a restart: {up.stdout[-800:]}"


def _tools_home(kubeconfig: str) -> str:
    """The KGITOPS_K8S_HOME of a kubeconfig written by tools/k8s/up (`<home>/kubeconfig`), else ''."""
    home = Path(kubeconfig).resolve().parent
    return str(home) if (home / "run" / "ports").is_file() and (K8S_TOOLS / "down").is_file() else ""


def _start_real_cluster() -> RealCluster | str:
    """The cluster to test against, or the reason there is none."""
    given = os.environ.get("KGITOPS_TEST_KUBECONFIG", "")
    if given:
        return RealCluster(given, os.environ.get("KGITOPS_K8S_SA_KUBECONFIG", ""), _tools_home(given))
    up = K8S_TOOLS / "up"
    if not up.is_file():
        return (
            f"no real Kubernetes API server: {up} not found (only CI and developers have ../shared beside "
            "the repository); set KGITOPS_TEST_KUBECONFIG to test against a cluster of your own"
        )
    # the server is built once per machine, in the user's cache (~/.cache/kgitops-k8s), not in this run's
    # XDG_CACHE_HOME (pytest_configure's temporary directory): that one would build it again on every run, and
    # be deleted under the running server at the end
    env = {**os.environ, "KGITOPS_K8S_HOME": os.environ.get("KGITOPS_K8S_HOME", _user_k8s_home())}
    try:
        proc = subprocess.run([str(up)], env=env, capture_output=True, text=True, timeout=UP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no real Kubernetes API server: {up} did not finish ({exc})"
    found = dict(
        line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("KGITOPS_") and "=" in line
    )
    if proc.returncode != 0 or "KGITOPS_TEST_KUBECONFIG" not in found:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        rc = proc.returncode
        return f"no real Kubernetes API server: {up} failed (exit {rc}; it needs root and apt): {tail}"
    os.environ["KGITOPS_TEST_KUBECONFIG"] = found["KGITOPS_TEST_KUBECONFIG"]
    os.environ["KGITOPS_K8S_SA_KUBECONFIG"] = found.get("KGITOPS_K8S_SA_KUBECONFIG", "")
    kubeconfig = found["KGITOPS_TEST_KUBECONFIG"]
    return RealCluster(kubeconfig, found.get("KGITOPS_K8S_SA_KUBECONFIG", ""), _tools_home(kubeconfig))


def needs_real_cluster(item: pytest.Item) -> bool:
    """Whether a collected test asks for the real API server (directly, or through the `server` parameter)."""
    if "real_k8s" in item.fixturenames:  # type: ignore[attr-defined]
        return True
    callspec = item.callspec if isinstance(item, pytest.Function) and hasattr(item, "callspec") else None
    return callspec is not None and str(callspec.params.get("server", "")).startswith("real")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The first real-tier test starts the server (and may build it): give it the time `up` may take.
    first = next((item for item in items if needs_real_cluster(item)), None)
    if first is not None:
        first.add_marker(pytest.mark.timeout(UP_TIMEOUT + 300))


@pytest.fixture(scope="session")
def real_k8s() -> RealCluster:
    """The session's real API server; a skip with the reason when there is none (a failure in CI)."""
    found = _start_real_cluster()
    if isinstance(found, str):
        if REQUIRE_REAL_K8S:
            pytest.fail(f"{found} (KGITOPS_REQUIRE_REAL_K8S=1 requires the real-cluster tier)")
        pytest.skip(found)
    return found


_CACHE_HOME: list[str] = []  # the cache directory pytest_configure made (removed by pytest_unconfigure)
_USER_CACHE_HOME = os.environ.get("XDG_CACHE_HOME", "")  # the user's, as it was before pytest_configure


def _user_k8s_home() -> str:
    """Where ../shared/tools/k8s keeps its server by default, for the user (not for this test run)."""
    return os.path.join(_USER_CACHE_HOME or os.path.expanduser("~/.cache"), "kgitops-k8s")


def pytest_configure(config: pytest.Config) -> None:
    """kgitops's cache of checked config files (``reconciler.config_cache``) goes to a directory of this test
    run, never to the user's ``~/.cache``: set before collection, so the environments test modules copy at
    import (``ENV = {**os.environ, ...}``) and the CLI in subprocesses have it too."""
    import tempfile

    _CACHE_HOME.append(tempfile.mkdtemp(prefix="kgitops-test-cache-"))
    os.environ["XDG_CACHE_HOME"] = _CACHE_HOME[-1]


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    for path in _CACHE_HOME:
        shutil.rmtree(path, ignore_errors=True)
