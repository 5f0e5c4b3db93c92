"""``kgitops serve --domain D`` sees only jobs D initiates or takes part in (kuscia#603), for every endpoint:
query, batchQuery, stop, cancel, suspend, restart, delete, approve, watch and list. A real server on 127.0.0.1
over the embedded engine; the answers are Kuscia's (``authHandlerJobRetrieve``: the op's code for reads,
AuthFailed 11102 for changes)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.model import ObjectRef, Resource
from reconciler.serve.http import KusciaAPIServer
from reconciler.serve.service import JobService

NOT_MINE = "domain's KusciaAPI could only {} the job that the domain as a participant in the job"


def job(name: str, initiator: str, parties: list[str]) -> Resource:
    return Resource.from_manifest(
        {
            "apiVersion": "kuscia.secretflow/v1alpha1",
            "kind": "KusciaJob",
            "metadata": {"name": name},
            "spec": {
                "initiator": initiator,
                "tasks": [
                    {
                        "alias": "t",
                        "taskID": f"{name}-t",
                        "appImage": "app",
                        "taskInputConfig": "{}",
                        "parties": [{"domainID": d} for d in parties],
                    }
                ],
            },
        }
    )


class Node:
    """A KusciaAPI server for one domain (or the master), over one state directory."""

    def __init__(self, state: Path, domain: str) -> None:
        self.service = JobService(lambda: LocalBackend(state, autostart=False), "cross-domain", domain)
        self.server = KusciaAPIServer(self.service, "127.0.0.1", 0, poll_seconds=0.05).start()

    def post(self, op: str, body: dict[str, Any], source: str = "alice") -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=20)
        try:
            headers = {"Content-Type": "application/json", "Kuscia-Source": source}
            conn.request("POST", f"/api/v1/job/{op}", body=json.dumps(body), headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def watch_ids(self) -> set[str]:
        """The job ids in one short watch stream (ADDED events of the jobs that exist, then the end)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=20)
        try:
            conn.request("POST", "/api/v1/job/watch", body=json.dumps({"timeout_seconds": 1}))
            resp = conn.getresponse()
            events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
        finally:
            conn.close()
        return {e["object"]["job_id"] for e in events if e["type"] != "HEARTBEAT"}

    def close(self) -> None:
        self.server.stop()
        self.service.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """Three jobs: alice initiates job-ab (alice, bob); carol initiates job-cd (carol, dave) and job-cb
    (carol, bob)."""
    backend = LocalBackend(tmp_path / "state", autostart=False)
    for j in (job("job-ab", "alice", ["alice", "bob"]), job("job-cd", "carol", ["carol", "dave"])):
        backend.create(j)
    backend.create(job("job-cb", "carol", ["carol", "bob"]))
    backend.close()
    yield tmp_path / "state"


@pytest.fixture
def alice(state: Path) -> Iterator[Node]:
    node = Node(state, "alice")
    yield node
    node.close()


def test_a_domain_reads_only_its_own_jobs(alice: Node) -> None:
    code, doc = alice.post("query", {"job_id": "job-ab"})
    assert code == 200 and doc["status"]["code"] == 0 and doc["data"]["job_id"] == "job-ab"
    code, doc = alice.post("query", {"job_id": "job-cd"})
    assert doc["status"] == {"code": 11202, "message": NOT_MINE.format("retrieve"), "details": []}
    assert doc["data"] is None  # Kuscia emits every field: no data, as null
    code, doc = alice.post("status/batchQuery", {"job_ids": ["job-ab", "job-cd"]})
    assert doc["status"]["code"] == 11203 and doc["status"]["message"] == NOT_MINE.format("retrieve")
    assert doc["data"] is None  # Kuscia emits every field: no data, as null
    code, doc = alice.post("status/batchQuery", {"job_ids": ["job-ab"]})
    assert doc["status"]["code"] == 0 and [j["job_id"] for j in doc["data"]["jobs"]] == ["job-ab"]
    code, doc = alice.post("list", {})
    assert doc["status"]["code"] == 0 and [j["job_id"] for j in doc["data"]["jobs"]] == ["job-ab"]
    assert alice.watch_ids() == {"job-ab"}
    code, doc = alice.post("query", {"job_id": "job-none"})
    assert doc["status"]["code"] == 11202 and "not found" in doc["status"]["message"]


@pytest.mark.parametrize(
    ("op", "verb"),
    [
        ("stop", "retrieve"),
        ("cancel", "cancel"),
        ("suspend", "suspend"),
        ("restart", "restart"),
        ("delete", "delete"),
        ("approve", "approve"),
    ],
)
def test_a_domain_cannot_change_a_job_of_others(alice: Node, state: Path, op: str, verb: str) -> None:
    body: dict[str, Any] = {"job_id": "job-cd", "reason": "not mine"}
    if op == "approve":
        body["result"] = 2
    code, doc = alice.post(op, body)
    assert code == 200 and doc["status"] == {"code": 11102, "message": NOT_MINE.format(verb), "details": []}
    backend = LocalBackend(state, autostart=False)
    try:
        live = backend.get(ObjectRef.of("KusciaJob", "job-cd"))
        assert live is not None, "the job of others was deleted"
        assert "kuscia.secretflow/job-stage" not in live.labels  # no stage command written
        assert "JobRejected" not in json.dumps(live.status)
    finally:
        backend.close()


def test_a_party_that_is_not_the_initiator_sees_the_job(state: Path) -> None:
    bob = Node(state, "bob")
    try:
        code, doc = bob.post("query", {"job_id": "job-cb"}, source="bob")
        assert doc["status"]["code"] == 0
        code, doc = bob.post("list", {}, source="bob")
        assert sorted(j["job_id"] for j in doc["data"]["jobs"]) == ["job-ab", "job-cb"]
        assert bob.watch_ids() == {"job-ab", "job-cb"}
        code, doc = bob.post("approve", {"job_id": "job-cb", "result": 1}, source="bob")
        assert doc["status"]["code"] == 0
        code, doc = bob.post("delete", {"job_id": "job-cd"}, source="bob")
        assert doc["status"]["code"] == 11102
        code, doc = bob.post("cancel", {"job_id": "job-cb"}, source="bob")
        assert doc["status"]["code"] == 0
    finally:
        bob.close()


def test_the_master_sees_every_job(state: Path) -> None:
    master = Node(state, "")
    try:
        code, doc = master.post("list", {})
        assert sorted(j["job_id"] for j in doc["data"]["jobs"]) == ["job-ab", "job-cb", "job-cd"]
        assert master.watch_ids() == {"job-ab", "job-cb", "job-cd"}
        code, doc = master.post("delete", {"job_id": "job-cd"})
        assert doc["status"]["code"] == 0
    finally:
        master.close()
