"""The kusciaapi backend against a stand-in that answers as a Kuscia node's Go code does: the watch stream as
Kuscia writes it, no job listing, the master role, protojson; over HTTP and over gRPC."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.base import AlreadyExists
from reconciler.backends.kusciaapi import KusciaAPIBackend
from reconciler.kusciaapi.events import event_type_name, json_stream
from reconciler.model import ObjectRef, Resource, Stage

from .kuscia_node_standin import KusciaNode

OWNED = {"kgitops.io/managed-by": "kgitops", "kgitops.io/source": "0123456789abcdef"}


def job(name: str, labels: dict[str, str] | None = None, **task_extra: Any) -> Resource:
    return Resource(
        kind="KusciaJob",
        name=name,
        labels=dict(labels or {}),
        spec={
            "initiator": "alice",
            "maxParallelism": 1,
            "tasks": [
                {
                    "alias": "psi",
                    "taskID": f"{name}-psi",
                    "appImage": "secretflow-image",
                    "taskInputConfig": "{}",
                    "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
                    **task_extra,
                }
            ],
        },
    )


@pytest.fixture
def node(tmp_path: Path) -> Iterator[KusciaNode]:
    n = KusciaNode(tmp_path / "node", grpc=True)
    yield n
    n.close()


def client(node: KusciaNode, state: Path, transport: str = "http") -> KusciaAPIBackend:
    url = node.grpc_url if transport == "grpc" else node.url
    return KusciaAPIBackend(url, state_dir=state, timeout=10, transport=transport)


def test_the_watch_stream_is_read_as_kuscia_writes_it(node: KusciaNode, tmp_path: Path) -> None:
    api = client(node, tmp_path / "a")
    api.create(job("job-w"))
    events = list(api.watch_jobs(timeout_seconds=1))
    added = [e for e in events if e["type"] == "ADDED"]
    assert [e["object"]["job_id"] for e in added] == ["job-w"]  # type 0 was left out of the JSON
    assert added[0]["object"]["status"]["state"]
    api.close()


def test_json_stream_takes_objects_split_anyhow() -> None:
    class Chunks:
        def __init__(self, parts: list[bytes]) -> None:
            self.parts = parts

        def read1(self, _n: int = -1) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    text = '{"object":{"job_id":"a"}}{"type":1,"object":{"job_id":"\u00e9"}}\n{"type":4}'.encode()
    parts = [text[i : i + 3] for i in range(0, len(text), 3)]  # splits inside objects and characters
    got = list(json_stream(Chunks(parts)))
    assert [event_type_name(e.get("type")) for e in got] == ["ADDED", "MODIFIED", "HEARTBEAT"]
    assert got[1]["object"]["job_id"] == "\u00e9"


def test_a_fresh_state_directory_adopts_the_jobs_it_owns(node: KusciaNode, tmp_path: Path) -> None:
    first = client(node, tmp_path / "first")
    first.create(job("job-owned", OWNED))
    fresh = client(node, tmp_path / "fresh")
    adopted = fresh.create(job("job-owned", OWNED))
    assert adopted.name == "job-owned" and adopted.labels == OWNED
    assert [j.name for j in fresh.list("KusciaJob")] == ["job-owned"]
    # Another owner's job (different marks), or a different job under the same name, is not taken.
    with pytest.raises(AlreadyExists):
        fresh.create(job("job-owned", {**OWNED, "kgitops.io/source": "fedcba9876543210"}))
    other = job("job-owned", OWNED)
    other.spec["tasks"][0]["appImage"] = "another-image"
    with pytest.raises(AlreadyExists):
        client(node, tmp_path / "third").create(other)


def test_job_list_shows_jobs_made_outside_a_sync(node: KusciaNode, tmp_path: Path) -> None:
    api = client(node, tmp_path / "a")
    api.create(job("job-made-by-hand"))  # as `kgitops job create` does: no inventory
    assert [j.name for j in api.list("KusciaJob")] == ["job-made-by-hand"]
    api.delete(ObjectRef.of("KusciaJob", "job-made-by-hand"))
    assert api.list("KusciaJob") == []


def test_a_node_too_old_for_a_field_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = KusciaNode(tmp_path / "old-node", old=True)
    try:
        api = client(old, tmp_path / "a")
        caplog.set_level(logging.WARNING, logger="kgitops.kusciaapi")
        newer = job("job-new", tolerable=True, scheduleConfig={"lifecycleSeconds": 600})
        newer.spec["tasks"][0]["parties"][0]["bandwidthLimits"] = [{"destinationID": "bob", "limitKBps": 100}]
        api.create(newer)
        warning = " ".join(r.getMessage() for r in caplog.records)
        assert "too old" in warning
        for field in ("schedule_config", "bandwidth_limits", "tolerable"):
            assert field in warning, warning
        caplog.clear()
        api.create(job("job-plain"))  # nothing newer used: nothing to say
        assert not caplog.records
    finally:
        old.close()


def test_grpc_transport(node: KusciaNode, tmp_path: Path) -> None:
    api = client(node, tmp_path / "g", transport="grpc")
    created = api.create(job("job-g", OWNED, scheduleConfig={"lifecycleSeconds": 600}))
    assert created.name == "job-g"
    live = api.get(ObjectRef.of("KusciaJob", "job-g"))
    assert live is not None and live.labels == OWNED
    assert [j.name for j in api.list("KusciaJob")] == ["job-g"]  # no list call over gRPC: the records
    api.stage(ObjectRef.of("KusciaJob", "job-g"), Stage.STOP, reason="test")
    events = list(api.watch_jobs(timeout_seconds=1))
    assert "job-g" in {e["object"].get("job_id") for e in events if e["type"] != "HEARTBEAT"}
    api.delete(ObjectRef.of("KusciaJob", "job-g"))
    assert api.get(ObjectRef.of("KusciaJob", "job-g")) is None
    api.close()
