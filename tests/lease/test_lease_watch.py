"""Two real ``kgitops watch`` processes on one source, the kubernetes backend and a real API server: one
holds the Lease and alone creates jobs and writes status; a kill -9'd leader is replaced after the lease
duration and not before; SIGTERM hands over at once; a leader frozen past its renew deadline writes nothing
when it wakes.

On the session's real API server (``real_k8s`` in tests/conftest.py: ``../shared/tools/k8s/up``, or the
cluster ``KGITOPS_TEST_KUBECONFIG`` names); skipped, with the reason, without one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.backends.k8s.election import LeaseRecord, from_spec
from reconciler.backends.kubernetes import load_api_client

NAMESPACE = "cross-domain"
# short durations (seconds), as --leader-elect-* flags
QUICK = {"lease": 3.0, "renew": 2.0, "retry": 0.5}

def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll a condition with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Replica:
    """One ``kgitops watch`` process; its JSON log lines are collected as they come (with arrival times)."""

    name: str
    proc: subprocess.Popen[str]
    status_dir: Path
    lines: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def messages(self, since: float = 0.0) -> list[str]:
        return [doc.get("msg", "") for t, doc in list(self.lines) if t >= since]

    def writes(self, since: float = 0.0) -> list[str]:
        """What it logged as writing: object creates/updates and status-file transitions."""
        return [
            m
            for m in self.messages(since)
            if m.startswith(("created ", "updated ", "recreated ", "pruned ", "adopted ", "status: "))
        ]

    def get(self, path: str) -> str:
        """GET /metrics or /healthz from its metrics server."""
        addr = next(m for m in self.messages() if m.startswith("metrics on ")).split("//")[1].split("/")[0]
        try:
            with urllib.request.urlopen(f"http://{addr}{path}", timeout=5) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.read().decode()

    def status_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.status_dir)) for p in self.status_dir.rglob("*.yaml"))


class Cluster:
    """The Lease and the jobs, read as admin."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client

        self.kubeconfig = kubeconfig
        self.api = load_api_client(kubeconfig)
        self.coordination = client.CoordinationV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def lease(self, name: str) -> LeaseRecord | None:
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self.coordination.read_namespaced_lease(name, NAMESPACE, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return from_spec(json.loads(resp.data).get("spec"))

    def holder(self, name: str) -> str:
        record = self.lease(name)
        return record.holder_identity if record else ""

    def job_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.custom.get_namespaced_custom_object(
                "kuscia.secretflow", "v1alpha1", NAMESPACE, "kusciajobs", name
            )
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise


def job_doc(name: str, app: str) -> dict[str, Any]:
    task = {
        "alias": "psi",
        "appImage": app,
        "taskInputConfig": "{}",
        "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
    }
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaJob",
        "metadata": {"name": name},
        "spec": {"initiator": "alice", "tasks": [task]},
    }


def appimage_doc(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "AppImage",
        "metadata": {"name": app},
        "spec": {
            "image": {"name": "noop", "tag": "1"},
            "deployTemplates": [
                {
                    "name": "noop",
                    "replicas": 1,
                    "spec": {"containers": [{"name": "noop", "command": ["true"], "workingDir": "/work"}]},
                }
            ],
        },
    }


class Setup:
    """A directory source with an AppImage and one job, a config for the kubernetes backend, unique names."""

    def __init__(self, tmp: Path, timing: dict[str, float], kubeconfig: str) -> None:
        self.tmp = tmp
        self.prefix = f"le{uuid.uuid4().hex[:8]}"
        self.app = f"{self.prefix}-app"
        self.lease = f"{self.prefix}-leader"
        self.timing = timing
        self.src = tmp / "src"
        self.src.mkdir()
        self.add_job("job-1")
        (self.src / "app.yaml").write_text(yaml.safe_dump(appimage_doc(self.app)), encoding="utf-8")
        self.config = tmp / "kgitops.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "backend": {
                        "kind": "kubernetes",
                        "kubernetes": {"kubeconfig": kubeconfig, "namespace": NAMESPACE, "retry_seconds": 5},
                    },
                    "prune": {"enabled": True},
                }
            ),
            encoding="utf-8",
        )
        self.replicas: list[Replica] = []

    def job(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def add_job(self, short: str) -> None:
        name = self.job(short)
        (self.src / f"{name}.yaml").write_text(yaml.safe_dump(job_doc(name, self.app)), encoding="utf-8")

    def start(self, name: str) -> Replica:
        status_dir = self.tmp / f"status-{name}"
        argv = [
            sys.executable, "-m", "reconciler", "watch", str(self.src),
            "--config", str(self.config),
            "--state-dir", str(self.tmp / f"state-{name}"),
            "--status-dir", str(status_dir),
            "--source-id", self.prefix,
            "--leader-elect",
            "--leader-elect-lease", self.lease,
            "--leader-elect-lease-duration", str(self.timing["lease"]),
            "--leader-elect-renew-deadline", str(self.timing["renew"]),
            "--leader-elect-retry-period", str(self.timing["retry"]),
            "--status-interval", "0.5",
            "--debounce", "0.05",
            "--log-format", "json",
            "--metrics-addr", "127.0.0.1:0",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "POD_NAME": name}
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        replica = Replica(name, proc, status_dir)

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                try:
                    doc = json.loads(line)
                except ValueError:
                    doc = {"msg": line.rstrip()}
                replica.lines.append((time.monotonic(), doc))

        threading.Thread(target=read, daemon=True).start()
        self.replicas.append(replica)
        return replica

    def stop_all(self) -> None:
        for r in self.replicas:
            if r.proc.poll() is None:
                r.proc.kill()
            r.proc.wait(30)
        for r in self.replicas:
            print(f"--- {r.name} (exit {r.proc.returncode})")
            for _t, doc in r.lines:
                print(doc.get("time", ""), doc.get("level", ""), doc.get("msg", ""))

    def cleanup(self, cluster: Cluster) -> None:
        from kubernetes.client.exceptions import ApiException

        for path in self.src.glob(f"{self.prefix}-*.yaml"):
            name = path.stem
            with contextlib.suppress(ApiException):
                cluster.custom.delete_namespaced_custom_object(
                    "kuscia.secretflow", "v1alpha1", NAMESPACE, "kusciajobs", name
                )
        for call in (
            lambda: cluster.custom.delete_cluster_custom_object(
                "kuscia.secretflow", "v1alpha1", "appimages", self.app
            ),
            lambda: cluster.coordination.delete_namespaced_lease(self.lease, NAMESPACE),
        ):
            with contextlib.suppress(ApiException):
                call()


@pytest.fixture
def cluster(real_k8s: Any) -> Iterator[Cluster]:
    c = Cluster(real_k8s.kubeconfig)
    yield c
    c.api.close()


@pytest.fixture
def setup(tmp_path: Path, cluster: Cluster) -> Iterator[Setup]:
    s = Setup(tmp_path, QUICK, cluster.kubeconfig)
    try:
        yield s
    finally:
        s.stop_all()
        s.cleanup(cluster)


def leader_and_follower(setup: Setup, cluster: Cluster) -> tuple[Replica, Replica]:
    a, b = setup.replicas
    holder = wait_for(lambda: cluster.holder(setup.lease), what="a holder of the Lease")
    leader, follower = (a, b) if holder == a.name else (b, a)
    assert holder == leader.name
    job1 = setup.job("job-1")
    wait_for(lambda: cluster.job_exists(job1), what="job-1 created")
    # the leader's first reconcile is over once it has logged the status it wrote
    wait_for(lambda: f"status: {job1}: new, Synced" in leader.messages(), what="the leader's first status")
    assert leader.status_files()
    wait_for(
        lambda: any(m.startswith("following: ") for m in follower.messages()), what="the follower says so"
    )
    return leader, follower


def test_only_the_leader_writes_and_a_killed_leader_is_replaced_after_the_lease_duration(
    setup: Setup, cluster: Cluster
) -> None:
    setup.start("replica-a")
    setup.start("replica-b")
    leader, follower = leader_and_follower(setup, cluster)
    job1 = setup.job("job-1")

    # each says what it is, on /healthz and in the kgitops_leader gauge
    assert "kgitops_leader 1.0" in leader.get("/metrics") and leader.get("/healthz") == "ok\n"
    assert "kgitops_leader 0.0" in follower.get("/metrics") and follower.get("/healthz") == "ok: follower\n"
    # only the leader created the job and wrote status; the follower wrote nothing
    assert any(m == f"created KusciaJob/{NAMESPACE}/{job1}" for m in leader.messages()), leader.messages()
    assert follower.writes() == []
    assert follower.status_files() == []
    # a new job in the source: still only the leader acts on it
    setup.add_job("job-2")
    job2 = setup.job("job-2")
    wait_for(lambda: cluster.job_exists(job2), what="job-2 created by the leader")
    wait_for(lambda: any(job2 in f for f in leader.status_files()), what="job-2's status by the leader")
    assert follower.writes() == [] and follower.status_files() == []

    # kill -9: no release; the follower takes over once the lease has not been renewed for its duration
    before = cluster.lease(setup.lease)
    assert before is not None and before.holder_identity == leader.name
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    leader.proc.wait(30)
    last = cluster.lease(setup.lease)  # the leader's last renewal
    assert last is not None and last.renew_time is not None
    wait_for(lambda: cluster.holder(setup.lease) == follower.name, timeout=30, what="the follower takes over")
    took = time.monotonic() - killed
    after = cluster.lease(setup.lease)
    assert after is not None and after.acquire_time is not None
    print(f"kill -9: taken over after {took:.2f} s (lease {QUICK['lease']} s, retry {QUICK['retry']} s)")
    # not before the lease expired (seen from the follower: from the last renewal it saw) ...
    assert (after.acquire_time - last.renew_time).total_seconds() >= QUICK["lease"] - 0.05
    # ... and soon after: the lease duration plus a retry period or two (plus slack for a loaded machine)
    assert took <= QUICK["lease"] + 2 * QUICK["retry"] + 2.0
    assert after.lease_transitions == before.lease_transitions + 1

    # the new leader reconciles: writes status, and acts on a new job
    wait_for(lambda: follower.status_files(), what="the new leader's status files")
    setup.add_job("job-3")
    job3 = setup.job("job-3")
    created = f"created KusciaJob/{NAMESPACE}/{job3}"
    wait_for(lambda: created in follower.messages(), what="job-3 created by the new leader")
    assert cluster.job_exists(job3)
    assert not any(job3 in m for m in leader.messages())


def test_sigterm_releases_the_lease_and_the_follower_takes_over_at_once(
    tmp_path: Path, cluster: Cluster
) -> None:
    # a long lease: only a release explains a takeover within a fraction of it
    setup = Setup(tmp_path, {"lease": 8.0, "renew": 5.0, "retry": 0.5}, cluster.kubeconfig)
    try:
        setup.start("replica-a")
        setup.start("replica-b")
        leader, follower = leader_and_follower(setup, cluster)
        leader.proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        wait_for(lambda: cluster.holder(setup.lease) == follower.name, timeout=30, what="the follower leads")
        took = time.monotonic() - stopped
        print(f"SIGTERM: taken over after {took:.2f} s (lease {setup.timing['lease']} s)")
        assert took < setup.timing["lease"] / 2
        assert leader.proc.wait(30) == 0
        assert any(m.startswith("released Lease/") for m in leader.messages())
        wait_for(lambda: follower.status_files(), what="the new leader's status files")
    finally:
        setup.stop_all()
        setup.cleanup(cluster)


def test_a_leader_frozen_past_its_renew_deadline_writes_nothing_when_it_wakes(
    setup: Setup, cluster: Cluster
) -> None:
    setup.start("replica-a")
    setup.start("replica-b")
    leader, follower = leader_and_follower(setup, cluster)
    leader.proc.send_signal(signal.SIGSTOP)  # a stalled node: no renewals, no steps
    try:
        wait_for(lambda: cluster.holder(setup.lease) == follower.name, timeout=30, what="the follower leads")
        setup.add_job("job-2")
        job2 = setup.job("job-2")
        wait_for(lambda: cluster.job_exists(job2), what="job-2 created by the new leader")
    finally:
        leader.proc.send_signal(signal.SIGCONT)
    woke = time.monotonic()
    # it wakes with a file event and its timers due, but its last renewal is older than the renew deadline:
    # its loop sees that before any step (the gauge turns 0 there), and its elector then finds the new holder
    wait_for(lambda: "kgitops_leader 0.0" in leader.get("/metrics"), timeout=30, what="the old leader stops")
    wait_for(
        lambda: any(m.startswith(("following: ", "stepped down: ")) for m in leader.messages(woke)),
        timeout=30,
        what="the old leader follows",
    )
    assert leader.writes(woke) == [], leader.writes(woke)
    assert not any(job2 in f for f in leader.status_files())
    assert cluster.holder(setup.lease) == follower.name
