"""The process runtime with real subprocesses: success, failure, lifecycle timeout, stop/kill, a party that
never starts, trust, the rendered task config and the logs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from reconciler.backends.local import LocalBackend
from reconciler.engine.runtime import procfs
from reconciler.model import ObjectRef, Stage

from .engine_fixtures import appimage, kjob, store_legacy

TWO = [{"domainID": "alice"}, {"domainID": "bob"}]


def job_phase(b: LocalBackend, name: str) -> str:
    job = b.get(ObjectRef.of("KusciaJob", name))
    return str(job.status.get("phase")) if job else "Deleted"


def task(b: LocalBackend, name: str) -> dict:
    t = b.get(ObjectRef.of("KusciaTask", name))
    assert t is not None
    return t.status


def settle(b: LocalBackend, name: str, *phases: str, timeout: float = 15) -> None:
    def done() -> bool:
        job = b.get(ObjectRef.of("KusciaJob", name))
        return (
            job is not None and job.status.get("phase") in phases and bool(job.status.get("completionTime"))
        )

    assert b.run_until(done, timeout=timeout), job_phase(b, name)


def test_engine_processes_get_rendered_config_ports_and_env(backend: LocalBackend, tmp_path: Path) -> None:
    script = (
        'cp ./kuscia/task-config.conf "$KGITOPS_STORAGE_DIR/$KUSCIA_TASK_ID.conf"; '
        'env > "$KGITOPS_POD_DIR/env.txt"'
    )
    backend.create(appimage("app", script, ports=["psi"]))
    backend.create(kjob("ok", [{"alias": "a", "taskInputConfig": '{"k": "v"}', "parties": TWO}]))
    settle(backend, "ok", "Succeeded")
    st = task(backend, "ok-a")
    assert st["phase"] == "Succeeded"
    assert [p["phase"] for p in st["partyTaskStatus"]] == ["Succeeded", "Succeeded"]
    assert {v["podPhase"] for v in st["podStatuses"].values()} == {"Succeeded"}
    ports = {p["domainID"]: p["namedPort"]["psi"] for p in st["allocatedPorts"]}
    assert ports["alice"] != ports["bob"]
    svc = st["serviceStatuses"]["bob/ok-a-0-psi"]  # Kuscia names it <pod>-<port>, the pod <task>-<replica>
    assert svc["portNumber"] == ports["bob"] and svc["endpoints"] == [f"127.0.0.1:{ports['bob']}"]
    conf = json.loads((backend.state_dir / "storage" / "bob" / "data" / "ok-a.conf").read_text())
    assert conf["task_id"] == "ok-a" and json.loads(conf["input"]) == {"k": "v"}
    cluster = json.loads(conf["cluster"])
    assert cluster["selfPartyIdx"] == 1 and [p["name"] for p in cluster["parties"]] == ["alice", "bob"]
    assert cluster["parties"][0]["services"][0]["endpoints"] == [f"127.0.0.1:{ports['alice']}"]
    assert json.loads(conf["ports"])["ports"][0] == {
        "name": "psi",
        "port": ports["bob"],
        "scope": "Cluster",
        "protocol": "GRPC",
    }
    env = dict(
        line.split("=", 1)
        for line in (backend.state_dir / "pods" / "ok-a" / "alice-0" / "env.txt").read_text().splitlines()
        if "=" in line
    )
    assert env["KUSCIA_DOMAIN_ID"] == "alice" and env["KGITOPS_WORKSPACE"] == str(tmp_path.resolve())
    assert env["PATH"].split(":")[0] == os.path.dirname(env["KGITOPS_PYTHON"])


def test_engine_non_zero_exit_fails_and_says_where_the_log_is(backend: LocalBackend) -> None:
    backend.create(appimage("app", 'echo "bad input: no table" >&2; exit 3'))
    backend.create(kjob("bad", [{"alias": "a"}, {"alias": "b", "dependencies": ["a"]}]))
    settle(backend, "bad", "Failed")
    st = task(backend, "bad-a")
    assert st["phase"] == "Failed"
    party = st["partyTaskStatus"][0]["message"]
    assert "exit code 3" in party and "kgitops job logs bad --task a --party alice" in party
    assert "exit code 3" in st["message"]
    # the output itself stays out of every status: statuses travel into status files and Git
    job = backend.get(ObjectRef.of("KusciaJob", "bad"))
    assert job is not None and "no table" not in json.dumps([st, job.status])
    assert backend.get(ObjectRef.of("KusciaTask", "bad-b")) is None
    lines = list(backend.logs("bad", task="a"))
    assert lines == ["[a/alice-0/main] bad input: no table"]


def test_engine_lifecycle_seconds_is_enforced(backend: LocalBackend) -> None:
    backend.create(appimage("slow", "sleep 60"))
    backend.create(
        kjob("slow", [{"alias": "a", "appImage": "slow", "scheduleConfig": {"lifecycleSeconds": 1}}])
    )
    t0 = time.monotonic()
    settle(backend, "slow", "Failed")
    assert time.monotonic() - t0 < 8
    st = task(backend, "slow-a")
    assert st["reason"] == "TaskLifecycleExceeded" and "lifecycle of 1 seconds" in st["message"]
    assert backend.run_until(lambda: not backend.store.pods(live_only=True), timeout=5)


def test_engine_stop_terminates_process_group_then_kills(backend: LocalBackend, tmp_path: Path) -> None:
    marker = tmp_path / "got-term"
    # the shell ignores SIGTERM (so SIGKILL must follow); its child sleep is in the same group
    ready = tmp_path / "ready"
    script = f"trap 'echo term >> {marker}' TERM; echo up >> {ready}; sleep 60 & wait; sleep 60 & wait"
    backend.create(appimage("trap", script))
    job = backend.create(kjob("stopme", [{"alias": "a", "appImage": "trap", "parties": TWO}]))
    assert backend.run_until(
        lambda: backend.get(ObjectRef.of("KusciaTask", "stopme-a")) is not None, timeout=10
    )
    assert backend.run_until(lambda: task(backend, "stopme-a")["phase"] == "Running", timeout=10)
    assert backend.run_until(lambda: ready.exists() and ready.read_text().count("up") == 2, timeout=10)
    pids = [p.pid for p in backend.store.pods("stopme-a")]
    assert len(pids) == 2 and all(procfs.group_alive(p) for p in pids)
    backend.stage(job.ref, Stage.STOP, domain="bob")
    settle(backend, "stopme", "Failed")
    live = backend.get(job.ref)
    assert live is not None and live.status["reason"] == "Party: bob execute the cmd: Stop."
    st = task(backend, "stopme-a")
    assert st["reason"] == "KusciaJobStopped" and st["message"] == "Job was stopped"
    assert backend.run_until(lambda: not any(procfs.group_alive(p) for p in pids), timeout=10)
    assert marker.read_text().count("term") == 2  # each party's shell got SIGTERM first


def test_engine_party_that_never_starts(backend: LocalBackend) -> None:
    app = appimage("app", "true")
    app.spec["deployTemplates"].append(
        {
            "name": "guest",
            "role": "guest",
            "spec": {
                "containers": [{"name": "main", "command": ["no-such-binary-x"], "workingDir": "/work"}]
            },
        }
    )
    backend.create(app)
    parties = [{"domainID": "alice"}, {"domainID": "bob", "role": "guest"}]
    backend.create(kjob("never", [{"alias": "a", "parties": parties}]))
    settle(backend, "never", "Failed")
    st = task(backend, "never-a")
    bob = next(p for p in st["partyTaskStatus"] if p["domainID"] == "bob")
    assert bob["phase"] == "Failed" and "exit code 127: the command was not found" in bob["message"]
    assert "failed party[bob]" in st["message"]
    # minReservedMembers 1: the task can succeed with alice alone
    backend.create(
        kjob("enough", [{"alias": "a", "parties": parties, "scheduleConfig": {"minReservedMembers": 1}}])
    )
    settle(backend, "enough", "Succeeded")


def test_engine_untrusted_appimage_fails_with_how_to(backend: LocalBackend) -> None:
    backend.create(appimage("evil", "touch /tmp/should-not-run"))
    backend.create(kjob("u", [{"alias": "a", "appImage": "evil"}]))
    settle(backend, "u", "Failed")
    st = task(backend, "u-a")
    assert st["reason"] == "UntrustedAppImage"
    assert "engine.trusted_appimages" in st["message"] and "--trust evil" in st["message"]
    assert not (backend.state_dir / "pods" / "u-a").exists()


def test_engine_missing_appimage_is_awaited_then_fails(backend: LocalBackend) -> None:
    backend.create(kjob("late", [{"alias": "a", "appImage": "app-late"}]))
    assert backend.run_until(
        lambda: backend.get(ObjectRef.of("KusciaTask", "late-a")) is not None, timeout=10
    )
    backend.step()
    assert (
        task(backend, "late-a")["phase"] == "Pending"
        and "app-late does not exist" in task(backend, "late-a")["message"]
    )
    backend.create(appimage("app-late", "true"))  # created after the job, as a sync may do
    settle(backend, "late", "Succeeded")
    backend.create(
        kjob(
            "m", [{"alias": "a", "appImage": "app-missing", "scheduleConfig": {"resourceReservedSeconds": 1}}]
        )
    )
    settle(backend, "m", "Failed")
    assert task(backend, "m-a")["reason"] == "AppImageNotFound"


def test_engine_suspend_restart_runs_again(backend: LocalBackend, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    runs = tmp_path / "runs"
    backend.create(appimage("app", f"echo run >> {runs}; while [ ! -e {gate} ]; do sleep 0.05; done"))
    job = backend.create(kjob("sr", [{"alias": "a"}]))
    assert backend.run_until(lambda: runs.exists(), timeout=10)
    backend.stage(job.ref, Stage.SUSPEND)
    assert backend.run_until(lambda: job_phase(backend, "sr") == "Suspended", timeout=10)
    assert backend.run_until(lambda: not backend.store.pods(live_only=True), timeout=10)
    gate.touch()
    backend.stage(job.ref, Stage.RESTART)
    settle(backend, "sr", "Succeeded")
    assert runs.read_text().count("run") == 2
    assert any(p.name.startswith("sr-a-") for p in (backend.state_dir / "pods" / ".previous").iterdir())


def test_engine_delete_job_kills_its_processes(backend: LocalBackend) -> None:
    backend.create(appimage("slow", "sleep 60"))
    job = backend.create(kjob("del", [{"alias": "a", "appImage": "slow"}]))
    assert backend.run_until(lambda: bool(backend.store.pods(live_only=True)), timeout=10)
    pids = [p.pid for p in backend.store.pods()]
    backend.delete(job.ref)
    assert backend.list("KusciaTask") == []
    assert backend.run_until(lambda: not any(procfs.group_alive(p) for p in pids), timeout=10)


def test_engine_malformed_appimage_fails_the_task_not_the_engine(backend: LocalBackend) -> None:
    app = appimage("app", "true")
    app.spec["deployTemplates"][0]["spec"]["containers"] = "not-a-list"
    store_legacy(backend, app)  # admission refuses it today
    backend.create(kjob("mal", [{"alias": "a"}]))
    settle(backend, "mal", "Failed")
    assert task(backend, "mal-a")["message"].startswith("KusciaTask failed after 3x retry, last error:")
