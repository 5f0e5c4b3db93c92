"""One set of stage rules (``reconciler.kuscia.stages``), judged by three parties: KusciaAPI makes no phase
check for stop and cancel, Kuscia's controller ignores a command that does not apply, and kgitops's job
commands refuse such a command up front. Shown on a real engine and a real KusciaAPI server on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.jobops import PhaseNotAllowed
from reconciler.kuscia.labels import LABEL_JOB_STAGE, LABEL_JOB_STAGE_TRIGGER, LABEL_JOB_STAGE_VERSION
from reconciler.kuscia.stages import (
    KGITOPS_PHASES,
    KUSCIAAPI_PHASES,
    controller_acts,
    kgitops_refusal,
    kusciaapi_refusal,
    kusciaapi_stage_labels,
    with_stage,
)
from reconciler.model import JobPhase, ObjectRef, Stage
from reconciler.sdk import Client
from reconciler.serve.http import KusciaAPIServer
from reconciler.serve.service import JobService

from .engine_fixtures import appimage, kjob

VALIDATION_FAILED = {
    "phase": "Failed",
    "completionTime": "2026-01-01T00:00:00Z",
    "conditions": [{"type": "JobValidated", "status": "False", "message": "cycled dependencies"}],
}


def post(port: int, op: str, body: dict[str, Any]) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        headers = {"Content-Type": "application/json", "Kuscia-Source": "alice"}
        conn.request("POST", f"/api/v1/job/{op}", body=json.dumps(body), headers=headers)
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def test_stop_on_a_succeeded_job_kusciaapi_answers_0_the_cli_refuses(backend: LocalBackend) -> None:
    backend.create(appimage("app", "true"))
    job = backend.create(kjob("j", [{"alias": "a"}]))
    assert backend.run_until(lambda: (backend.get(job.ref) or job).status.get("phase") == "Succeeded", 10)

    with pytest.raises(PhaseNotAllowed, match="cannot stop job `j`: it is Succeeded"):
        Client(backend).stop_job("j")

    service = JobService(lambda: LocalBackend(backend.state_dir, autostart=False), "cross-domain", "alice")
    server = KusciaAPIServer(service, "127.0.0.1", 0, poll_seconds=0.05).start()
    try:
        doc = post(server.port, "stop", {"job_id": "j"})
        assert doc["status"]["code"] == 0, doc
        doc = post(server.port, "suspend", {"job_id": "j"})
        assert doc["status"]["code"] == 11210
        assert doc["status"]["message"] == "job: j current status is Succeeded can not be suspend."
    finally:
        server.stop()
        service.close()
    while backend.step():  # reconcile until nothing changes: the controller ignores the label
        pass
    live = backend.get(ObjectRef.of("KusciaJob", "j"))
    assert live is not None
    assert live.labels[LABEL_JOB_STAGE] == "Stop" and live.labels[LABEL_JOB_STAGE_TRIGGER] == "alice"
    assert live.status["phase"] == "Succeeded"


@pytest.mark.parametrize("phase", [str(p) for p in JobPhase])
def test_kgitops_is_never_looser_than_kusciaapi(phase: str) -> None:
    """Every command kgitops issues, KusciaAPI would accept too; where they differ it is kgitops refusing."""
    for stage in KGITOPS_PHASES:
        status = {"phase": phase}
        if kgitops_refusal(stage, status) is None:
            assert kusciaapi_refusal(stage, status) is None, (stage, phase)


@pytest.mark.parametrize("stage", list(KGITOPS_PHASES))
def test_kgitops_refuses_what_the_controller_ignores(stage: Stage) -> None:
    """A command kgitops issues in a phase where the controller runs commands is one it acts on (§5)."""
    for phase in (JobPhase.AWAITING_APPROVAL, JobPhase.PENDING, JobPhase.RUNNING, JobPhase.SUSPENDED):
        status = {"phase": str(phase)}
        assert (kgitops_refusal(stage, status) is None) == controller_acts(stage, status), (stage, phase)


def test_kusciaapi_rules_and_words() -> None:
    assert KUSCIAAPI_PHASES[Stage.STOP] is None and KUSCIAAPI_PHASES[Stage.CANCEL] is None
    for phase in ("Succeeded", "Cancelled", "Failed", "initialized"):
        assert kusciaapi_refusal(Stage.STOP, {"phase": phase}) is None
        assert kusciaapi_refusal(Stage.CANCEL, {"phase": phase}) is None
    refusal = kusciaapi_refusal(Stage.RESTART, {"phase": "Running"})
    assert refusal is not None and refusal.allowed == (JobPhase.FAILED, JobPhase.SUSPENDED)
    assert refusal.kusciaapi_text("j") == "job: j current status is Running can not be restart."
    d6 = kusciaapi_refusal(Stage.RESTART, VALIDATION_FAILED)
    assert d6 is not None and d6.allowed == () and "cycled dependencies" in d6.kusciaapi_text("j")
    assert kgitops_refusal(Stage.RESTART, VALIDATION_FAILED) is not None


def test_stop_acts_on_a_failed_job_until_it_is_complete() -> None:
    assert controller_acts(Stage.STOP, {"phase": "Failed"})
    assert kgitops_refusal(Stage.STOP, {"phase": "Failed"}) is None
    done = {"phase": "Failed", "completionTime": "2026-01-01T00:00:00Z"}
    assert not controller_acts(Stage.STOP, done) and kgitops_refusal(Stage.STOP, done) is not None
    assert controller_acts(Stage.CANCEL, done) and kgitops_refusal(Stage.CANCEL, done) is None


def test_stage_label_writes() -> None:
    first = with_stage({}, Stage.SUSPEND, "alice")
    assert first == {
        LABEL_JOB_STAGE: "Suspend",
        LABEL_JOB_STAGE_TRIGGER: "alice",
        LABEL_JOB_STAGE_VERSION: "1",
    }
    assert with_stage(first, Stage.SUSPEND, "bob")[LABEL_JOB_STAGE_VERSION] == "2"
    stopped = with_stage(first, Stage.STOP, "alice")
    assert kusciaapi_stage_labels(stopped, Stage.STOP, "bob") is None  # not rewritten when already set
    again = kusciaapi_stage_labels(with_stage({}, Stage.CANCEL, "a"), Stage.CANCEL, "bob")
    assert again is not None and again[LABEL_JOB_STAGE_VERSION] == "2"
