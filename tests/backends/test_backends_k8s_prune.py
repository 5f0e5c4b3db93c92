"""Prune stops a running job first and deletes it only once it is final or its grace period has passed, so
Kuscia's controller can act on the Stop (``reconciler.apply.prune``).

On every API server of ``conftest.py`` (the stand-in, the real one as admin and as deploy/rbac.yaml's
ServiceAccount). Nothing acts on the Stop on any of them (no Kuscia controller): the test plays Kuscia's part
by writing the job's status as an admin (``k8s_admin``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitops.gitops_support import job_doc, write
from kubernetes.client.exceptions import ApiException

from reconciler.apply import Applied, Outcome, Reconciler, SyncResult
from reconciler.backends.k8s.inventory import configmap_name
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client
from reconciler.kuscia.labels import LABEL_JOB_STAGE
from reconciler.model import ObjectRef
from reconciler.plan import PlanOptions
from reconciler.plan import ownership as own
from reconciler.source import DirectorySource
from reconciler.status.overview import overview_rows

from .conftest import FAST, set_job_status
from .kusciaapi_fixtures import Served


@pytest.fixture
def src(tmp_path: Path, unique: str, k8s_admin: KubernetesBackend) -> Iterator[Path]:
    """A source with one job that stays, so that the source is never empty (an empty one prunes nothing).
    Its inventory goes afterwards (the jobs, named ``unique...``, are removed by ``k8s_admin``)."""
    root = tmp_path / "src"
    write(root, "keep.yaml", job_doc(f"{unique}-keep"))
    yield root
    with contextlib.suppress(ApiException):
        name = configmap_name(DirectorySource(root).source_id)
        k8s_admin.core.delete_namespaced_config_map(name, k8s_admin.namespace)


def one(result: SyncResult, name: str) -> Applied:
    return next(a for a in result.applied if a.ref.name == name)


def running_job_left_the_source(
    backend: KubernetesBackend, admin: KubernetesBackend, src: Path, name: str, grace: float
) -> Reconciler:
    """Sync ``name`` in, let it run (``admin`` plays Kuscia), take it out of the source; the reconciler
    prunes with ``grace``."""
    write(src, f"{name}.yaml", job_doc(name))
    rec = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True, prune_grace_period=grace))
    rec.sync()
    set_job_status(admin, name, {"phase": "Running"})
    (src / f"{name}.yaml").unlink()
    return rec


def live_phase(rec: Reconciler, ref: ObjectRef) -> str:
    """The job's phase as the reconciler's plan sees it ("" when it sees no such job)."""
    entry = rec.plan().plan.entry(ref)
    return str(entry.live.status.get("phase", "")) if entry is not None and entry.live is not None else ""


def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_a_running_job_is_stopped_first_and_deleted_once_final(
    k8s: KubernetesBackend,
    k8s_admin: KubernetesBackend,
    kubeconfig: tuple[str, str],
    src: Path,
    unique: str,
) -> None:
    name = f"{unique}-run"
    ref = ObjectRef.of("KusciaJob", name)
    rec = running_job_left_the_source(k8s, k8s_admin, src, name, grace=3600)

    _, first = rec.sync()
    stopping = one(first, name)
    assert stopping.outcome == Outcome.STOPPING
    assert "stop issued to the Running job" in stopping.message and "after 3600s" in stopping.message
    live = k8s.get(ref)
    assert live is not None and live.labels[LABEL_JOB_STAGE] == "Stop"  # what Kuscia's controller acts on
    stopped_at = datetime.fromisoformat(live.annotations[own.STOPPED_AT].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stopped_at).total_seconds()) < 120
    assert ref in k8s.get_inventory(rec.source_id)  # still owned: a later sync finishes the prune

    # kgitops restarted (a new process, a new connection): the stop time is read from the object
    path, context = kubeconfig
    fresh = KubernetesBackend(load_api_client(path, context), k8s.namespace, "alice", FAST, request_timeout=5)
    try:
        again = Reconciler(DirectorySource(src), fresh, PlanOptions(prune=True, prune_grace_period=3600))
        planned, second = again.sync()
        assert one(second, name).outcome == Outcome.STOPPING
        assert f"stopping since {live.annotations[own.STOPPED_AT]} (Running)" in one(second, name).message
        row = next(r for r in overview_rows(again.plan().plan, datetime.now(UTC)) if r.name == name)
        assert row.sync == "Stopping" and row.phase == "Running" and "stopping since" in row.reason
        assert fresh.get(ref) is not None

        set_job_status(k8s_admin, name, {"phase": "Failed"})  # Kuscia: a Stop makes a job Failed (§5)
        # A long-lived reconciler reads the cluster through the backend's watch (``k8s.informer``): Kuscia's
        # write is seen once its event has arrived.
        until(lambda: live_phase(again, ref) == "Failed")
        _, third = again.sync()
        pruned = one(third, name)
        assert pruned.outcome == Outcome.PRUNED and pruned.message == "deleted: the job was Failed"
        assert fresh.get(ref) is None and ref not in fresh.get_inventory(again.source_id)
    finally:
        fresh.close()


def test_a_job_that_does_not_end_is_deleted_when_the_grace_period_has_passed(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, src: Path, unique: str
) -> None:
    name = f"{unique}-stuck"
    rec = running_job_left_the_source(k8s, k8s_admin, src, name, grace=1.0)
    _, first = rec.sync()
    assert one(first, name).outcome == Outcome.STOPPING
    results: list[Applied] = []

    def pruned() -> bool:
        results.append(one(rec.sync()[1], name))
        return results[-1].outcome == Outcome.PRUNED

    until(pruned)
    last = results[-1].message
    assert last.startswith("deleted: still Running") and "grace period 1s" in last
    assert all(a.outcome == Outcome.STOPPING for a in results[:-1])
    assert k8s.get(ObjectRef.of("KusciaJob", name)) is None


def test_a_zero_grace_period_stops_and_deletes_at_once(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, src: Path, unique: str
) -> None:
    name = f"{unique}-now"
    rec = running_job_left_the_source(k8s, k8s_admin, src, name, grace=0)
    _, result = rec.sync()
    assert one(result, name).outcome == Outcome.PRUNED
    assert k8s.get(ObjectRef.of("KusciaJob", name)) is None


def test_a_final_job_is_deleted_without_a_stop(
    k8s: KubernetesBackend, k8s_admin: KubernetesBackend, src: Path, unique: str
) -> None:
    name = f"{unique}-done"
    rec = running_job_left_the_source(k8s, k8s_admin, src, name, grace=3600)
    set_job_status(k8s_admin, name, {"phase": "Succeeded"})
    _, result = rec.sync()
    assert one(result, name).outcome == Outcome.PRUNED
    assert one(result, name).message == "deleted: the job was Succeeded"


def kgitops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_the_cli_shows_stopping_then_deleted(
    k8s: KubernetesBackend,
    k8s_admin: KubernetesBackend,
    kubeconfig: tuple[str, str],
    src: Path,
    unique: str,
) -> None:
    path, context = kubeconfig
    cluster = ["--backend", "kubernetes", "--kubeconfig", path] + (["--context", context] if context else [])
    name = f"{unique}-cli"
    write(src, f"{name}.yaml", job_doc(name))
    assert kgitops("sync", src, *cluster).returncode == 0
    set_job_status(k8s_admin, name, {"phase": "Running"})
    (src / f"{name}.yaml").unlink()

    stop = kgitops("sync", src, *cluster, "--prune", "--prune-grace-period", "1h")
    assert stop.returncode == 0, stop.stderr
    assert f"stopping    KusciaJob/cross-domain/{name}: stop issued to the Running job" in stop.stdout
    status = kgitops("status", src, *cluster, "--prune")
    row = next(line for line in status.stdout.splitlines() if name in line)
    assert "Stopping" in row and "Running" in row
    diff = kgitops("diff", src, *cluster, "--prune")
    assert "stopping since" in diff.stdout

    set_job_status(k8s_admin, name, {"phase": "Failed"})
    gone = kgitops("sync", src, *cluster, "--prune", "--prune-grace-period", "1h")
    assert gone.returncode == 0, gone.stderr
    assert f"pruned      KusciaJob/cross-domain/{name}: deleted: the job was Failed" in gone.stdout
    assert k8s.get(ObjectRef.of("KusciaJob", name)) is None


def test_through_kusciaapi_the_stop_comes_first_too(served: Served, tmp_path: Path) -> None:
    """The KusciaAPI backend gets the same grace logic (Kuscia's controller acts on StopJob there too)."""
    backend = served.client()
    src = tmp_path / "kapi"
    write(src, "keep.yaml", job_doc("kapi-keep"))
    write(src, "kapi-run.yaml", job_doc("kapi-run"))
    rec = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True, prune_grace_period=3600))
    rec.sync()
    served.set_phase("kapi-run", {"phase": "Running"})
    (src / "kapi-run.yaml").unlink()
    ref = ObjectRef.of("KusciaJob", "kapi-run")
    try:
        assert one(rec.sync()[1], "kapi-run").outcome == Outcome.STOPPING
        stopped = served.direct.get(ref)
        assert stopped is not None and stopped.labels[LABEL_JOB_STAGE] == "Stop"
        assert "stopping since" in one(rec.sync()[1], "kapi-run").message
        served.set_phase("kapi-run", {"phase": "Failed"})
        assert one(rec.sync()[1], "kapi-run").message == "deleted: the job was Failed"
        assert served.direct.get(ref) is None
    finally:
        backend.close()
