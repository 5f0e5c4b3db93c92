"""KusciaAPI's HTTP wire as Kuscia's port 8082 speaks it (protojson both ways, the master role, Kuscia's
answers for finished jobs), against ``kgitops serve`` in front of the Kubernetes stand-in, where a test can
put a job in any phase as Kuscia's controller would."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any

from reconciler.backends.local import LocalBackend
from reconciler.kuscia.names import pod_name, service_name
from reconciler.kusciaapi.mapping import job_from_create_request
from reconciler.serve.service import JobService

from .kusciaapi_fixtures import TOKEN, Served

JOB = {
    "job_id": "job-wire",
    "initiator": "alice",
    "tasks": [
        {
            "app_image": "secretflow-image",
            "alias": "psi",
            "task_id": "job-wire-psi",
            "task_input_config": "{}",
            "parties": [{"domain_id": "alice"}, {"domain_id": "bob"}],
        }
    ],
}


def post(served: Served, path: str, body: Any, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(cafile=str(served.pki.ca))
    ctx.load_cert_chain(str(served.pki.client_cert), str(served.pki.client_key))
    conn = http.client.HTTPSConnection("127.0.0.1", served.server.port, timeout=20, context=ctx)
    try:
        data = raw if raw is not None else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={"Token": TOKEN, "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_requests_decode_as_protojson_in_both_spellings(served: Served) -> None:
    camel = {
        "jobId": "job-camel",
        "initiator": "alice",
        "maxParallelism": "2",  # 32-bit integers as strings too
        "unknownField": {"ignored": True},
        "tasks": [{**JOB["tasks"][0], "taskId": "camel-psi", "appImage": "img"}],
    }
    status, doc = post(served, "/api/v1/job/create", camel)
    assert (status, doc["status"]["code"], doc["data"]) == (200, 0, {"job_id": "job-camel"})
    for body in ({"jobId": "job-camel"}, {"job_id": "job-camel"}):
        status, doc = post(served, "/api/v1/job/query", body)
        assert doc["status"]["code"] == 0 and doc["data"]["max_parallelism"] == 2, doc
        assert doc["data"]["tasks"][0]["app_image"] == "img"
    status, doc = post(served, "/api/v1/job/status/batchQuery", {"jobIds": ["job-camel"]})
    assert [j["job_id"] for j in doc["data"]["jobs"]] == ["job-camel"]
    # enums by number or by name
    for result in (1, "APPROVE_RESULT_ACCEPT"):
        status, doc = post(served, "/api/v1/job/approve", {"jobId": "job-camel", "result": result})
        assert doc["status"]["code"] == 0, doc
    # a 64-bit integer as a string: the watch ends after its timeout
    conn_status, _ = 0, None
    ctx = ssl.create_default_context(cafile=str(served.pki.ca))
    ctx.load_cert_chain(str(served.pki.client_cert), str(served.pki.client_key))
    conn = http.client.HTTPSConnection("127.0.0.1", served.server.port, timeout=20, context=ctx)
    try:
        body = json.dumps({"timeoutSeconds": "1"})
        conn.request("POST", "/api/v1/job/watch", body=body, headers={"Token": TOKEN})
        resp = conn.getresponse()
        conn_status = resp.status
        events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    finally:
        conn.close()
    assert conn_status == 200 and "job-camel" in {e["object"].get("job_id") for e in events}


def test_replies_emit_every_field_and_errors_carry_null_data(served: Served) -> None:
    status, doc = post(served, "/api/v1/job/create", JOB)
    assert doc["status"] == {"code": 0, "message": "success", "details": []}
    status, doc = post(served, "/api/v1/job/query", {"job_id": "job-wire"})
    task = doc["data"]["tasks"][0]
    # created without schedule_config: Kuscia returns null, not defaults
    assert task["schedule_config"] is None
    assert task["parties"][0] == {
        "domain_id": "alice",
        "role": "",
        "resources": None,
        "bandwidth_limits": [],
    }
    assert doc["data"]["custom_fields"] == {}
    status, doc = post(served, "/api/v1/job/query", {"job_id": "nope"})
    assert status == 200 and doc["status"]["code"] == 11202 and doc["data"] is None


def test_undecodable_bodies_get_11101_with_http_200(served: Served) -> None:
    for raw in (b"not json", b"[1, 2]", b'{"job_id": 5}', b'{"job_id": "x", "header": 7}'):
        status, doc = post(served, "/api/v1/job/query", None, raw=raw)
        assert status == 200 and doc["status"]["code"] == 11101 and doc["data"] is None, (raw, doc)


def test_finished_jobs_answer_as_kuscia_does(served: Served) -> None:
    assert post(served, "/api/v1/job/create", JOB)[1]["status"]["code"] == 0
    served.set_phase("job-wire", {"phase": "Succeeded"})
    # stop: no Kuscia-Source needed on the external port, and no phase check
    status, doc = post(served, "/api/v1/job/stop", {"job_id": "job-wire"})
    assert (status, doc["status"]["code"]) == (200, 0), doc
    for phase in ("Cancelled", "ApprovalReject", "Failed"):
        served.set_phase("job-wire", {"phase": phase})
        status, doc = post(served, "/api/v1/job/approve", {"job_id": "job-wire", "result": 1})
        assert (status, doc["status"]["code"]) == (200, 0), (phase, doc)


def test_checks_run_in_kusciaapis_order(served: Served) -> None:
    both_wrong = {
        **JOB,
        "tasks": [
            {
                **JOB["tasks"][0],
                "parties": [
                    {"domain_id": "alice", "bandwidth_limits": [{"destination_id": "", "limit_kbps": 0}]}
                ],
            }
        ],
    }
    status, doc = post(served, "/api/v1/job/create", both_wrong)
    assert doc["status"] == {
        "code": 11100,
        "message": "bandwidth limit kbps can not be zero or negative",
        "details": [],
    }


def test_health(served: Served) -> None:
    status, doc = post(served, "/healthZ", {})
    assert status == 200 and doc == {
        "status": {"code": 0, "message": "success", "details": []},
        "data": {"ready": True},
    }


def test_the_embedded_engine_answers_finished_jobs_as_kuscia_does(tmp_path: Path) -> None:
    """The local backend refuses stage commands and approvals on finished jobs; served as KusciaAPI, stop and
    approve on them answer success, as Kuscia's do, and leave the job as it is."""
    backend = LocalBackend(tmp_path / "state", autostart=False)
    job = job_from_create_request(JOB, "cross-domain")
    backend.create(job)
    for phase in ("Succeeded", "Cancelled"):
        with backend.store.transaction():
            stored = backend.store.get(job.ref)
            assert stored is not None
            stored.status = {"phase": phase}
            backend.store.put(stored)
        service = JobService(lambda: LocalBackend(tmp_path / "state", autostart=False), "cross-domain")
        try:
            assert service.handle("stop", {"job_id": "job-wire"})["status"]["code"] == 0
            answer = service.handle("approve", {"job_id": "job-wire", "result": "APPROVE_RESULT_ACCEPT"})
            assert answer["status"]["code"] == 0
            assert service.handle("query", {"job_id": "job-wire"})["data"]["status"]["state"] == phase
        finally:
            service.close()
    backend.close()


def test_service_names_are_kuscias() -> None:
    assert service_name(pod_name("job-psi", "", 0), "spu") == "job-psi-0-spu"
    assert service_name(pod_name("job-psi", "server", 1), "fed") == "job-psi-server-1-fed"
    assert service_name("1abc-0", "fed") == "svc-1abc-0-fed"
    long = service_name("t" * 70 + "-0", "fed")
    assert len(long) <= 63 and long.startswith("svc-") and long.endswith("-fed")
