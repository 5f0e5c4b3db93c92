"""The kusciaapi backend against ``kgitops serve`` over real HTTPS with mutual TLS and the Token header."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.request
from typing import Any

import pytest

from reconciler.backends.base import AlreadyExists, BackendError, NotFound, NotSupported, PhaseError
from reconciler.backends.kusciaapi import KusciaAPIBackend
from reconciler.kuscia.labels import LABEL_JOB_STAGE as STAGE_LABEL
from reconciler.kuscia.labels import LABEL_JOB_STAGE_TRIGGER as STAGE_TRIGGER_LABEL
from reconciler.model import ObjectRef, Resource, Stage

from .kusciaapi_fixtures import TOKEN, Served

JOB = ObjectRef.of("KusciaJob", "job-best-effort-linear")


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


APP_IMAGE = Resource(
    kind="AppImage",
    name="secretflow-image",
    spec={
        "image": {"name": "secretflow/secretflow", "tag": "1.0"},
        "deployTemplates": [
            {"name": "app", "spec": {"containers": [{"name": "app", "command": ["true"], "workingDir": "/"}]}}
        ],
    },
)


def linear_job(labels: dict[str, str] | None = None) -> Resource:
    def task(alias: str, deps: list[str]) -> dict[str, Any]:
        t: dict[str, Any] = {
            "alias": alias,
            "taskID": alias,
            "appImage": "secretflow-image",
            "taskInputConfig": json.dumps({"sf_input_ids": ["alice-table", "bob-table"]}),
            "parties": [
                {
                    "domainID": "alice",
                    "role": "",
                    "resources": {
                        "limits": {"cpu": "2", "memory": "2Gi"},
                        "requests": {"cpu": "2", "memory": "2Gi"},
                    },
                },
                {"domainID": "bob"},
            ],
            "priority": 0,
            "tolerable": alias == "job-split",
        }
        if deps:
            t["dependencies"] = deps
        return t

    return Resource(
        kind="KusciaJob",
        name="job-best-effort-linear",
        labels=labels or {},
        spec={
            "initiator": "alice",
            "maxParallelism": 2,
            "tasks": [task("job-psi", []), task("job-split", ["job-psi"])],
        },
    )


def test_create_get_list_delete_round_trip(served: Served) -> None:
    api = served.client(domain="alice")
    created = api.create(linear_job({"kgitops.io/source": "repo-1", "team": "risk"}))
    assert created.name == "job-best-effort-linear"

    stored = served.direct.get(JOB)  # what the served backend holds: a KusciaAPI job
    assert stored is not None
    assert stored.spec["scheduleMode"] == "BestEffort"
    # no schedule_config sent: Kuscia stores none (and QueryJob answers null); see the mapping tests for the
    # defaults it fills in when one is sent
    assert "scheduleConfig" not in stored.spec["tasks"][1]
    assert stored.labels["kuscia.job.custom-fields/kgitops.io..source"] == "repo-1"

    got = api.get(JOB)
    assert got is not None
    assert got.labels == {"kgitops.io/source": "repo-1", "team": "risk"}
    assert got.spec["maxParallelism"] == 2
    assert got.spec["tasks"][1]["dependencies"] == ["job-psi"]
    assert got.spec["tasks"][0]["parties"][0]["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert got.status["phase"] == "Pending"  # no status yet: KusciaAPI says Pending
    served.set_phase("job-best-effort-linear", {"phase": "initialized"})
    assert api.get(JOB).status["phase"] == "Initialized"  # type: ignore[union-attr] # `Unknown` on the wire (D8)
    assert [j.name for j in api.list("KusciaJob", labels={"team": "risk"})] == ["job-best-effort-linear"]
    assert api.list("KusciaJob", labels={"team": "other"}) == []

    with pytest.raises(AlreadyExists):
        api.create(linear_job())
    api.delete(JOB)
    assert api.get(JOB) is None
    with pytest.raises(NotFound):
        api.delete(JOB)
    api.close()


def test_status_and_tasks_are_read_back(served: Served) -> None:
    api = served.client()
    api.create(linear_job())
    served.set_phase(
        "job-best-effort-linear",
        {
            "phase": "Failed",
            "startTime": "2023-07-27T01:55:46Z",
            "completionTime": "2023-07-27T01:56:19Z",
            "taskStatus": {"job-psi": "Failed"},
            "approveStatus": {"alice": "JobAccepted"},
        },
    )
    served.direct.create(
        Resource(
            kind="KusciaTask",
            name="job-psi",
            spec={
                "initiator": "alice",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "alice", "appImageRef": "secretflow-image"}],
            },
        )
    )
    served.standin.set_status(
        "kusciatasks",
        "cross-domain",
        "job-psi",
        {
            "phase": "Failed",
            "startTime": "2023-07-27T01:55:46Z",
            "partyTaskStatus": [
                {"domainID": "alice", "phase": "Failed", "message": "oom"},
                {"domainID": "bob", "phase": "Failed"},
            ],
        },
    )
    job = api.get(JOB)
    assert job is not None
    assert job.status["phase"] == "Failed"
    assert job.status["message"] == "Task[job-psi]-Party[alice]: oom"
    assert job.status["taskStatus"] == {"job-psi": "Failed"}  # job-split was never created
    assert job.status["approveStatus"] == {"alice": "JobAccepted"}
    tasks = api.list("KusciaTask")
    assert [(t.name, t.status["phase"]) for t in tasks] == [("job-psi", "Failed")]
    assert tasks[0].annotations["kuscia.secretflow/job-id"] == "job-best-effort-linear"
    assert api.get(ObjectRef.of("KusciaTask", "job-psi")) is not None


def test_stage_commands_and_their_phase_errors(served: Served) -> None:
    api = served.client(domain="alice")
    api.create(linear_job())
    served.set_phase("job-best-effort-linear", {"phase": "Pending"})
    with pytest.raises(PhaseError, match="current status is Pending can not be suspend"):
        api.stage(JOB, Stage.SUSPEND)
    with pytest.raises(PhaseError, match="can not be restart"):
        api.stage(JOB, Stage.RESTART)
    served.set_phase("job-best-effort-linear", {"phase": "Running"})
    api.stage(JOB, Stage.SUSPEND, reason="maintenance")
    labels = served.direct.get(JOB).labels  # type: ignore[union-attr]
    assert labels[STAGE_LABEL] == "Suspend" and labels[STAGE_TRIGGER_LABEL] == "alice"
    api.stage(JOB, Stage.STOP)
    api.stage(JOB, Stage.CANCEL)
    assert served.direct.get(JOB).labels[STAGE_LABEL] == "Cancel"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        api.stage(ObjectRef.of("KusciaJob", "nope"), Stage.CANCEL)


def test_approve_as_master_and_as_a_domain(served: Served) -> None:
    api = served.client()
    api.create(linear_job())
    api.approve(JOB, "bob", accept=True)  # the master's KusciaAPI speaks for every party
    assert served.direct.get(JOB).status["approveStatus"] == {  # type: ignore[union-attr]
        "alice": "JobAccepted",
        "bob": "JobAccepted",
    }
    bob = served.client(domain="bob")
    with pytest.raises(BackendError, match="speaks for domain bob"):
        bob.approve(JOB, "alice", accept=False)


def test_appimages_and_job_changes_are_not_supported(served: Served) -> None:
    api = served.client()
    with pytest.raises(NotSupported, match="AppImages"):
        api.create(APP_IMAGE)
    assert api.list("AppImage") == []
    api.create(linear_job())
    with pytest.raises(NotSupported, match="delete it and create it again"):
        api.update(linear_job())


def test_applied_spec_and_annotations_are_remembered_for_sync(served: Served) -> None:
    """KusciaAPI rewrites specs (BestEffort, schedule defaults) and keeps no annotations; the backend shows
    the job as kgitops applied it, so a sync does not see a phantom change every time."""
    api = served.client()
    wanted = linear_job({"kgitops.io/managed-by": "kgitops"})
    wanted.spec["scheduleMode"] = "Strict"
    wanted.annotations = {"kgitops.io/spec-hash": "abc123", "kgitops.io/source-path": "jobs/linear.yaml"}
    created = api.create(wanted)
    assert created.spec == wanted.spec and created.annotations == wanted.annotations
    assert served.direct.get(JOB).spec["scheduleMode"] == "BestEffort"  # type: ignore[union-attr]

    api.update_metadata(
        JOB, labels={"kgitops.io/managed-by": None, "team": "risk"}, annotations={"kgitops.io/revision": "r2"}
    )
    again = served.client()  # another process with the same state dir sees the same
    got = again.get(JOB)
    assert got is not None
    assert got.labels == {"team": "risk"}
    assert got.annotations["kgitops.io/revision"] == "r2" and got.status["phase"] == "Pending"
    assert [j.name for j in again.list("KusciaJob", labels={"team": "risk"})] == [JOB.name]

    # Re-created outside kgitops: the record no longer applies.
    again.delete(JOB)
    served.direct.create(linear_job())
    assert api.get(JOB).annotations == {}  # type: ignore[union-attr]


def test_inventory_is_kept_locally_per_endpoint_and_source(served: Served) -> None:
    api = served.client()
    refs = {JOB, ObjectRef.of("KusciaJob", "other")}
    api.set_inventory("git@example.org:t/jobs.git", refs)
    assert api.get_inventory("git@example.org:t/jobs.git") == refs
    assert api.get_inventory("another") == set()


def test_wrong_token_is_refused_and_never_shown(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-do-not-print"
    api = served.client(token=wrong)
    with pytest.raises(BackendError) as info:
        api.get(JOB)
    assert "401" in str(info.value)
    assert wrong not in str(info.value) and TOKEN not in caplog.text and wrong not in caplog.text
    assert wrong not in repr(api)


def test_no_client_certificate_gets_401_and_a_foreign_one_fails_the_handshake(served: Served) -> None:
    ctx = ssl.create_default_context(cafile=str(served.pki.ca))
    req = urllib.request.Request(
        f"{served.server.url}/api/v1/job/query",
        data=b'{"job_id": "x"}',
        headers={"Token": TOKEN, "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, context=ctx, timeout=5)
    assert info.value.code == 401
    assert json.loads(info.value.read())["status"]["code"] == 11102

    rogue = served.client(cert=str(served.pki.rogue_cert), key=str(served.pki.rogue_key))
    with pytest.raises(BackendError, match="cannot reach KusciaAPI"):
        rogue.get(JOB)


def test_watch_streams_job_events_and_heartbeats(served: Served) -> None:
    api = served.client()
    api.create(linear_job())
    events: list[dict[str, Any]] = []
    done = threading.Event()

    def run() -> None:
        for e in api.watch_jobs(timeout_seconds=2):
            events.append(e)
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    wait_until(lambda: bool(events))
    served.set_phase("job-best-effort-linear", {"phase": "Running"})
    wait_until(lambda: any(e["type"] == "MODIFIED" for e in events))
    served.direct.delete(JOB)
    assert done.wait(10)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "ADDED" and events[0]["object"]["job_id"] == "job-best-effort-linear"
    assert "MODIFIED" in kinds and "DELETED" in kinds and "HEARTBEAT" in kinds
    modified = next(e for e in events if e["type"] == "MODIFIED")
    assert modified["object"]["status"]["state"] == "Running"


def test_plain_http_is_refused_off_loopback() -> None:
    from reconciler.serve.http import KusciaAPIServer

    with pytest.raises(ValueError, match="loopback"):
        KusciaAPIServer(None, "0.0.0.0", 0, None)  # type: ignore[arg-type]


def test_endpoint_and_certificate_problems_are_clear(tmp_path: Any) -> None:
    with pytest.raises(BackendError, match="must look like https://host:8082"):
        KusciaAPIBackend("localhost:8082")
    with pytest.raises(BackendError, match="client certificate/key/CA"):
        KusciaAPIBackend("https://localhost:8082", cert=str(tmp_path / "missing.crt"))


def test_serve_cli_refuses_unsafe_or_incomplete_settings(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from reconciler.cli.serve import serve

    runner = CliRunner()
    state = ["--state-dir", str(tmp_path / "state")]
    result = runner.invoke(serve, [*state, "--listen", "127.0.0.1:0"])
    assert result.exit_code != 0 and "needs --cert, --key, --ca" in result.output
    result = runner.invoke(serve, [*state, "--insecure-http", "--listen", "0.0.0.0:0"])
    assert result.exit_code != 0 and "refusing plain HTTP on 0.0.0.0" in result.output
    result = runner.invoke(serve, [*state, "--insecure-http", "--listen", "nonsense"])
    assert result.exit_code != 0 and "HOST:PORT" in result.output
