"""One admission check for every way in: KusciaAPI create (a real ``kgitops serve`` HTTP server on 127.0.0.1
over the embedded engine), and the backend boundary itself (every backend, every write)."""

from __future__ import annotations

import copy
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.base import Backend, Invalid
from reconciler.backends.kubernetes import KubernetesBackend
from reconciler.backends.local import LocalBackend
from reconciler.kuscia import codes as ec
from reconciler.model import ObjectRef, Resource
from reconciler.serve.http import KusciaAPIServer
from reconciler.serve.service import JobService

from .kusciaapi_fixtures import Served

TOKEN = "admission-token"


def task(alias: str, **extra: Any) -> dict[str, Any]:
    return {
        "alias": alias,
        "task_id": f"t-{alias}",
        "app_image": "secretflow-image",
        "task_input_config": "{}",
        "parties": [{"domain_id": "alice"}, {"domain_id": "bob"}],
        **extra,
    }


def create_request(job_id: str, **extra: Any) -> dict[str, Any]:
    return {"job_id": job_id, "initiator": "alice", "max_parallelism": 2, "tasks": [task("psi")], **extra}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KusciaAPIServer]:
    """``kgitops serve``'s server and job service, in-process, over a real LocalBackend (SQLite store)."""
    service = JobService(lambda: LocalBackend(tmp_path / "state", autostart=False), "cross-domain")
    server = KusciaAPIServer(service, "127.0.0.1", 0, None, TOKEN, poll_seconds=0.05).start()
    yield server
    server.stop()
    service.close()


def post(server: KusciaAPIServer, op: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        data = json.dumps(body).encode()
        conn.request("POST", f"/api/v1/job/{op}", data, {"Token": TOKEN, "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def refused(server: KusciaAPIServer, body: dict[str, Any], *needles: str, code: int = ec.CREATE_JOB) -> str:
    """Create is answered with Kuscia's code for an object the API server refuses (11201), or for a body that
    does not decode as a CreateJobRequest (11101); no job exists."""
    status, doc = post(server, "create", body)
    assert status == 200, doc
    assert doc["status"]["code"] == code, doc
    message: str = doc["status"]["message"]
    for needle in needles:
        assert needle in message, message
    status, gone = post(server, "query", {"job_id": body["job_id"]})
    assert gone["status"]["code"] == ec.QUERY_JOB, gone  # not found: nothing was stored
    return message


def test_kusciaapi_create_refuses_what_validate_refuses(api: KusciaAPIServer) -> None:
    refused(api, create_request("mp-129", max_parallelism=129), "spec.maxParallelism", "SCHEMA004", "128")
    refused(api, create_request("mp-100000", max_parallelism=100000), "SCHEMA004", "not 100000")
    many = create_request("tasks-129", tasks=[task(f"t{i}") for i in range(129)])
    refused(api, many, "spec.tasks", "SCHEMA005", "at most 128 entries, not 129")
    cyclic = create_request(
        "cyclic", tasks=[task("a", dependencies=["b"]), task("b", dependencies=["a"])]
    )
    refused(api, cyclic, "KJ005", "a → b → a")
    refused(api, create_request("dup", tasks=[task("a"), task("a", task_id="t-b")]), "KJ001")
    # priority is an int32 on the wire: protojson refuses a larger number before any check runs (11101)
    huge = create_request("huge-prio", tasks=[task("a", priority=10**20)])
    refused(api, huge, "out of range", code=ec.UNEXPECTED)
    refused(api, create_request("label", custom_fields={"team": "has spaces"}), "META003")
    refused(
        api,
        create_request("bad-dep", tasks=[task("a"), task("b", dependencies=["t-a"])]),
        "KJ004",
        "dependencies name aliases",
    )


def test_kusciaapi_create_refuses_a_task_id_a_live_job_claims(api: KusciaAPIServer) -> None:
    status, doc = post(api, "create", create_request("first"))
    assert doc["status"]["code"] == 0, doc
    message = refused(api, create_request("second"), "XF002", "'t-psi'", "KusciaJob/cross-domain/first")
    assert "the local backend" in message


def test_kusciaapi_create_accepts_the_limits_and_kuscia_defaults(api: KusciaAPIServer) -> None:
    limit = create_request("at-limit", max_parallelism=128, tasks=[task(f"t{i}") for i in range(128)])
    assert post(api, "create", limit)[1]["status"]["code"] == 0
    body = create_request("no-ids", max_parallelism=0, tasks=[task("a", task_id=""), task("b", task_id="")])
    assert post(api, "create", body)[1]["status"]["code"] == 0  # empty task_id: the controller generates one
    # JSON's 1e999 is no int32: protojson refuses the body (11101, HTTP 200), never a traceback
    huge = create_request("inf", max_parallelism=1e999)
    status, doc = post(api, "create", huge)
    assert status == 200 and doc["status"]["code"] == ec.UNEXPECTED and doc["data"] is None


def test_kusciaapi_approve_refuses_a_job_that_fails_admission(api: KusciaAPIServer) -> None:
    legacy = Resource.from_manifest(
        {
            "kind": "KusciaJob",
            "metadata": {"name": "legacy"},
            "spec": {
                "initiator": "alice",
                "maxParallelism": 129,
                "tasks": [
                    {"alias": "a", "appImage": "x", "taskInputConfig": "{}", "parties": [{"domainID": "bob"}]}
                ],
            },
        }
    )
    legacy.status = {"phase": "AwaitingApproval"}
    api.service.run(lambda b: b.store.create(legacy))  # type: ignore[attr-defined] # stored before admission
    status, doc = post(api, "approve", {"job_id": "legacy", "result": 1})
    assert doc["status"]["code"] == ec.APPROVE_JOB and "SCHEMA004" in doc["status"]["message"], doc
    status, doc = post(api, "approve", {"job_id": "legacy", "result": 2})  # a rejection always counts
    assert doc["status"]["code"] == 0, doc


# -- the boundary: every backend, every write ------------------------------------------------------------

JOB = {
    "apiVersion": "kuscia.secretflow/v1alpha1",
    "kind": "KusciaJob",
    "metadata": {"name": "ok"},
    "spec": {
        "initiator": "alice",
        "tasks": [{"alias": "a", "taskID": "ok-a", "appImage": "app", "taskInputConfig": "{}",
                   "parties": [{"domainID": "alice"}]}],
    },
}


def job(**spec: Any) -> Resource:
    doc = copy.deepcopy(JOB)
    doc["spec"].update(spec)
    return Resource.from_manifest(doc)


BAD = [
    (job(maxParallelism=129), "SCHEMA004"),
    (job(tasks=[]), "SCHEMA005"),
    (Resource.from_manifest({**copy.deepcopy(JOB), "metadata": {"name": "../escape"}}), "META001"),
    (job(initiator="Not_A_Domain"), "REF002"),
]


def test_a_backend_may_not_override_the_admitted_writes() -> None:
    for method in ("create", "update", "update_metadata", "approve"):
        with pytest.raises(TypeError, match=f"overrides {method}"):
            type("Sneaky", (LocalBackend,), {method: lambda self, *a, **k: None})


def test_the_local_backend_refuses_before_storing(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state", autostart=False)
    try:
        for obj, rule in BAD:
            with pytest.raises(Invalid, match=rule) as err:
                backend.create(obj)
            assert not err.value.verdict.ok
        assert backend.list("KusciaJob") == []
        created = backend.create(job())
        with pytest.raises(Invalid, match="META003"):
            backend.update_metadata(created.ref, labels={"team": "not a label value"})
        half = "x" * (150 * 1024)
        backend.update_metadata(created.ref, annotations={"one": half})
        with pytest.raises(Invalid, match="annotations total"):  # together over 256 KiB
            backend.update_metadata(created.ref, annotations={"two": half})
        with pytest.raises(Invalid, match="SCHEMA004"):
            backend.update(job(maxParallelism=0))
        assert backend.get(created.ref).spec.get("maxParallelism") is None  # type: ignore[union-attr]
    finally:
        backend.close()


def test_the_kubernetes_backend_refuses_before_sending(k8s: KubernetesBackend) -> None:
    for obj, rule in BAD:
        with pytest.raises(Invalid, match=rule):
            k8s.create(obj)
    refused = {obj.name for obj, _rule in BAD}
    assert [r.name for r in k8s.list("KusciaJob") if r.name in refused] == []  # the server may hold others


def test_the_kusciaapi_backend_refuses_before_sending(served: Served) -> None:
    client = served.client()
    for obj, rule in BAD:
        with pytest.raises(Invalid, match=rule):
            client.create(obj)
    assert served.direct.list("KusciaJob") == []


def test_every_backend_class_is_guarded() -> None:
    """Each concrete backend implements the underscored writes only (the check runs at class creation)."""
    from reconciler.backends.kusciaapi import KusciaAPIBackend

    for cls in (LocalBackend, KubernetesBackend, KusciaAPIBackend):
        for method in ("create", "update", "update_metadata", "approve"):
            assert getattr(cls, method) is getattr(Backend, method), (cls, method)
    assert ObjectRef.of("KusciaJob", "x").namespace == "cross-domain"
