"""The engine applies the settings in force (``engine.trusted_appimages``, ``engine.auto_approve``) of the
command that asked, also when a driver started earlier is still running: as a user runs the commands (real
``kgitops`` processes, the real background driver, real task processes), polling with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.backends.local import LocalBackend
from reconciler.engine.driver import driver_pid
from reconciler.engine.runtime import procfs
from reconciler.model import ObjectRef, Resource

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
# the command writes a marker named after its task in the workspace (the directory of kgitops.yaml), then
# sleeps: a marker means "it ran", and its pid says whether it still runs
SLEEPER = 'echo $$ > "$KGITOPS_WORKSPACE/$KUSCIA_TASK_ID.ran"; exec sleep 120'
QUICK = 'echo $$ > "$KGITOPS_WORKSPACE/$KUSCIA_TASK_ID.ran"'


def kgitops(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def wait_for(
    predicate: Callable[[], object], what: str, timeout: float = 120.0, state: Path | None = None
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (_seen(state) if state else ""))
        time.sleep(0.05)


def _seen(state: Path) -> str:
    """What the engine holds and logged, for a failure message."""
    lines = []
    if (state / "engine.db").is_file():
        with LocalBackend(state, readonly=True) as b:
            for kind in ("KusciaJob", "KusciaTask"):
                for o in b.list(kind):
                    lines.append(f"{kind} {o.name}: {json.dumps(o.status, sort_keys=True)[:600]}")
    log = state / "engine.log"
    return "\n" + "\n".join(lines) + "\n" + (log.read_text()[-3000:] if log.is_file() else "")


def appimage(name: str, script: str) -> dict:
    container = {"name": "main", "command": ["sh", "-c", script], "workingDir": "/work"}
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "AppImage",
        "metadata": {"name": name},
        "spec": {
            "image": {"name": name, "tag": "1"},
            "deployTemplates": [{"name": "main", "replicas": 1, "spec": {"containers": [container]}}],
        },
    }


def job(name: str, image: str, parties: tuple[str, ...] = ("alice",)) -> dict:
    task = {
        "alias": "t",
        "taskID": f"{name}-t",
        "appImage": image,
        "taskInputConfig": "{}",
        "parties": [{"domainID": d} for d in parties],
    }
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaJob",
        "metadata": {"name": name},
        "spec": {"initiator": "alice", "tasks": [task]},
    }


class Project:
    """A kgitops.yaml (autostart on: writes start the background driver) and a directory of manifests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.state = root / "state"
        self.config = root / "kgitops.yaml"
        self.repo.mkdir()

    def settings(self, trusted: list[str], auto_approve: list[str]) -> None:
        engine = {
            "state_dir": str(self.state),
            "trusted_appimages": trusted,
            "auto_approve": auto_approve,
            "kill_grace_seconds": 1,
        }
        self.config.write_text(yaml.safe_dump({"engine": engine}), encoding="utf-8")

    def add(self, doc: dict) -> None:
        (self.repo / f"{doc['kind']}-{doc['metadata']['name']}.yaml").write_text(yaml.safe_dump(doc))

    def sync(self) -> subprocess.CompletedProcess[str]:
        return kgitops("sync", self.repo, "--config", self.config)

    def job(self, name: str) -> Resource:
        with LocalBackend(self.state, readonly=True) as b:
            found = b.get(ObjectRef.of("KusciaJob", name))
            assert found is not None, name
            return found

    def phase(self, name: str) -> str:
        return str(self.job(name).status.get("phase"))

    def task(self, name: str) -> Resource | None:
        with LocalBackend(self.state, readonly=True) as b:
            return b.get(ObjectRef.of("KusciaTask", f"{name}-t"))

    def task_reason(self, name: str) -> str:
        task = self.task(name)
        return str(task.status.get("reason") or "") if task else ""

    def wait(self, predicate: Callable[[], object], what: str) -> object:
        return wait_for(predicate, what, state=self.state)

    def ran(self, name: str) -> int | None:
        """The pid of the job's process if it ever started."""
        marker = self.root / f"{name}-t.ran"
        return int(marker.read_text()) if marker.is_file() and marker.read_text().strip() else None


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path)
    yield p
    pid = driver_pid(p.state)  # the background driver ends once its jobs are gone: delete them all
    if p.state.is_dir():
        with LocalBackend(p.state, autostart=False) as b:
            for j in b.list("KusciaJob"):
                b.delete(j.ref)
    if pid and pid > 0:
        wait_for(lambda: driver_pid(p.state) is None, "the background driver to exit", timeout=30)


def alive(pid: int) -> bool:
    return procfs.alive(pid, 0)


def test_revoked_trust_applies_at_once_to_jobs_not_started_and_stops_running_processes(
    project: Project,
) -> None:
    project.settings(trusted=["sleeper"], auto_approve=[])
    project.add(appimage("sleeper", SLEEPER))
    project.add(job("early", "sleeper"))
    assert project.sync().returncode == 0
    first = project.wait(lambda: project.ran("early"), "the trusted job's process to start")
    assert isinstance(first, int)
    driver = driver_pid(project.state)
    assert driver and driver > 0

    project.settings(trusted=[], auto_approve=[])  # trust revoked in kgitops.yaml
    project.add(job("late", "sleeper"))
    synced = project.sync()
    assert synced.returncode == 0, synced.stderr
    # the job created after the revocation never runs: it fails, saying why and how to trust it
    project.wait(lambda: project.task_reason("late") == "UntrustedAppImage", "the late job to be refused")
    assert project.ran("late") is None
    task = project.task("late")
    assert task is not None and "engine.trusted_appimages" in str(task.status.get("message"))
    # the process that was running when trust was withdrawn is stopped, and its task says why
    project.wait(lambda: not alive(first), "the running process to be stopped")
    early = project.task("early")
    assert early is not None and early.status.get("reason") == "UntrustedAppImage"
    assert "withdrawn" in str(early.status.get("message"))
    project.wait(lambda: project.phase("early") == "Failed", "the early job to fail")


def test_revoked_auto_approve_is_no_longer_given_by_a_running_driver(project: Project) -> None:
    project.settings(trusted=["sleeper"], auto_approve=["bob"])
    project.add(appimage("sleeper", SLEEPER))
    project.add(job("keep", "sleeper"))  # keeps the background driver busy (and so alive)
    assert project.sync().returncode == 0
    project.wait(lambda: project.ran("keep"), "the first job to run")
    driver = driver_pid(project.state)

    project.settings(trusted=["sleeper"], auto_approve=[])  # bob no longer accepts jobs automatically
    project.add(job("two", "sleeper", parties=("alice", "bob")))
    assert project.sync().returncode == 0
    project.wait(lambda: project.phase("two") == "AwaitingApproval", "the job to wait for bob")
    assert project.job("two").status.get("approveStatus", {}).get("bob") != "JobAccepted"
    assert driver_pid(project.state) == driver  # the same driver, started under the old settings, decided


def test_granted_trust_lets_job_restart_run_at_once(project: Project) -> None:
    project.settings(trusted=["sleeper"], auto_approve=[])
    project.add(appimage("sleeper", SLEEPER))
    project.add(appimage("demo", QUICK))
    project.add(job("keep", "sleeper"))
    project.add(job("demo", "demo"))
    assert project.sync().returncode == 0
    project.wait(lambda: project.task_reason("demo") == "UntrustedAppImage", "the untrusted job to fail")
    project.wait(lambda: project.phase("demo") == "Failed", "the untrusted job to fail")
    driver = driver_pid(project.state)

    project.settings(trusted=["sleeper", "demo"], auto_approve=[])  # the error's own fix
    restarted = kgitops("job", "restart", "demo", "--config", project.config)
    assert restarted.returncode == 0, restarted.stderr
    project.wait(lambda: project.phase("demo") == "Succeeded", "the restarted job to succeed")
    assert project.ran("demo") is not None
    assert driver_pid(project.state) == driver


def test_a_watch_with_other_settings_refuses_commands_naming_its_pid(project: Project) -> None:
    project.settings(trusted=["sleeper"], auto_approve=[])
    project.add(appimage("sleeper", SLEEPER))
    watch = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "watch", str(project.repo), "--config", str(project.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        wait_for(lambda: driver_pid(project.state) == watch.pid, "the watch to drive the engine")
        same = kgitops("job", "create", "-f", write_job(project, "same"), "--config", project.config)
        assert same.returncode == 0, same.stderr  # the same settings: fine
        project.settings(trusted=[], auto_approve=[])
        for argv in (
            ("sync", project.repo),
            ("job", "create", "-f", write_job(project, "other")),
            ("job", "restart", "same"),
        ):
            refused = kgitops(*argv, "--config", project.config)
            assert refused.returncode == 2, (argv, refused.stdout, refused.stderr)
            assert f"pid {watch.pid}" in refused.stderr and "Traceback" not in refused.stderr
            assert "hint:" in refused.stderr
        with LocalBackend(project.state, readonly=True) as b:
            assert b.get(ObjectRef.of("KusciaJob", "other")) is None  # nothing was changed
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=60)


def write_job(project: Project, name: str) -> Path:
    path = project.root / f"{name}.yaml"
    path.write_text(json.dumps(job(name, "sleeper")))
    return path


def test_the_record_has_a_version_and_a_holder_binds_only_while_it_drives(tmp_path: Path) -> None:
    """The rules of ``trust_settings.publish`` over a real store and the real engine lock."""
    from reconciler.engine.driver import EngineLock, driver_identity
    from reconciler.engine.store import Store
    from reconciler.engine.trust_settings import (
        Holder,
        SettingsConflict,
        StoredSettings,
        TrustSettings,
        publish,
        read_record,
    )

    store = Store.open(tmp_path)
    try:
        assert StoredSettings(store).current() == TrustSettings()  # nothing published: nothing trusted
        a, b = TrustSettings.of(["app"], ["bob"]), TrustSettings.of([], ["bob"])
        assert publish(store, a, None).version == 1
        assert publish(store, TrustSettings.of(["app", "app"], ["bob"]), None).version == 1  # the same
        assert publish(store, b, None).version == 2
        extra = StoredSettings(store, TrustSettings.of(["demo-*"], []))  # `engine run --trust demo-*`
        assert extra.current().trusts("demo-1") and not extra.current().trusts("app")

        lock = EngineLock(tmp_path)  # a `watch` drives in its own process with settings a
        assert lock.acquire()
        watch = Holder(os.getpid(), lock.token, "kgitops watch")
        publish(store, a, driver_identity(tmp_path), watch)
        with pytest.raises(SettingsConflict) as refused:
            publish(store, b, driver_identity(tmp_path))
        assert refused.value.exit_code == 2 and f"pid {os.getpid()}" in refused.value.message
        assert "`kgitops watch`" in refused.value.message and "kill" in refused.value.hint
        record = read_record(store)
        assert record is not None and record.settings == a and record.version == 3  # nothing was changed
        assert publish(store, a, driver_identity(tmp_path)).holder == watch  # the same settings: fine
        lock.release()  # the watch ended: its settings bind nobody any more
        assert publish(store, b, driver_identity(tmp_path)).version == 4
    finally:
        store.close()
