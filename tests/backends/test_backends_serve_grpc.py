"""``kgitops serve --grpc-listen`` as a real process, driven by the Kuscia authors' published stubs (the
``kuscia`` package, 0.0.3b0: an older protocol than Kuscia's current one) over mutual TLS with the ``token``
metadata, and by kgitops' own messages (the current protocol) to show both interoperate on the wire."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from kuscia.job.api import commit_kuscia_job
from kuscia.proto.api.v1alpha1.kusciaapi import health_pb2, health_pb2_grpc, job_pb2, job_pb2_grpc

from reconciler.kusciaapi.messages import OPS, message

from .certs import PKI
from .kusciaapi_fixtures import TOKEN
from .test_backends_serve import certs, start_serve, stop_serve  # noqa: F401 - certs is a fixture

META = (("token", TOKEN),)


@pytest.fixture
def grpc_port(certs: PKI, tmp_path: Path) -> Iterator[int]:  # noqa: F811
    proc, _http = start_serve(certs, tmp_path, "--grpc-listen", "127.0.0.1:0")
    log = tmp_path / "serve.log"
    deadline = time.monotonic() + 30
    while not (match := re.search(r"over gRPC on 127\.0\.0\.1:(\d+)", log.read_text())):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    yield int(match.group(1))
    stop_serve(proc)


def channel(certs: PKI, port: int, client_cert: bool = True) -> grpc.Channel:  # noqa: F811
    d = certs.ca.parent
    creds = grpc.ssl_channel_credentials(
        root_certificates=(d / "ca.crt").read_bytes(),
        private_key=(d / "kusciaapi-server.key").read_bytes() if client_cert else None,
        certificate_chain=(d / "kusciaapi-server.crt").read_bytes() if client_cert else None,
    )
    return grpc.secure_channel(f"localhost:{port}", creds)


def old_task(alias: str, deps: tuple[str, ...] = ()) -> job_pb2.Task:
    return job_pb2.Task(
        app_image="secretflow-image",
        parties=[job_pb2.Party(domain_id="alice"), job_pb2.Party(domain_id="bob")],
        alias=alias,
        task_id=alias,
        dependencies=list(deps),
        task_input_config="{}",
        priority=100,
    )


def test_published_stubs_create_query_batch_stop_delete(certs: PKI, grpc_port: int) -> None:  # noqa: F811
    with channel(certs, grpc_port) as ch:
        stub = job_pb2_grpc.JobServiceStub(ch)
        req = job_pb2.CreateJobRequest(
            job_id="job-grpc",
            initiator="alice",
            max_parallelism=2,
            tasks=[old_task("psi"), old_task("split")],
        )
        created = stub.CreateJob(req, metadata=META, timeout=30)
        assert created.status.code == 0 and created.data.job_id == "job-grpc"

        again = stub.CreateJob(req, metadata=META, timeout=30)
        assert again.status.code == 11201 and "already exists" in again.status.message

        queried = stub.QueryJob(job_pb2.QueryJobRequest(job_id="job-grpc"), metadata=META, timeout=30)
        assert queried.status.code == 0
        assert queried.data.initiator == "alice" and queried.data.max_parallelism == 2
        assert [t.alias for t in queried.data.tasks] == ["psi", "split"]
        assert queried.data.status.state in ("Pending", "Running", "AwaitingApproval", "Unknown")

        batch = stub.BatchQueryJobStatus(
            job_pb2.BatchQueryJobStatusRequest(job_ids=["job-grpc"]), metadata=META, timeout=30
        )
        assert batch.status.code == 0 and [j.job_id for j in batch.data.jobs] == ["job-grpc"]

        stopped = stub.StopJob(job_pb2.StopJobRequest(job_id="job-grpc", reason="test"), metadata=META)
        assert stopped.status.code == 0 and stopped.data.job_id == "job-grpc"
        deleted = stub.DeleteJob(job_pb2.DeleteJobRequest(job_id="job-grpc"), metadata=META, timeout=30)
        assert deleted.status.code == 0
        gone = stub.QueryJob(job_pb2.QueryJobRequest(job_id="job-grpc"), metadata=META, timeout=30)
        assert gone.status.code == 11202 and "not found" in gone.status.message

        # Kuscia's SDK helper, unchanged
        res = commit_kuscia_job(
            ch,
            list(META),
            job_pb2.CreateJobRequest(job_id="job-sdk", initiator="alice", tasks=[old_task("psi")]),
        )
        assert res.status.code == 0 and res.data.job_id == "job-sdk"

        health = health_pb2_grpc.HealthServiceStub(ch).healthZ(health_pb2.HealthRequest(), metadata=META)
        assert health.status.code == 0 and health.data.ready is True


def test_current_and_published_protocols_interoperate(certs: PKI, grpc_port: int) -> None:  # noqa: F811
    """A client on the current protocol sends the fields 0.0.3b0 lacks; the server keeps them; the old stubs
    read the same reply, skipping what they do not know."""
    create = OPS["create"]
    new_req = message(create.request)(
        job_id="job-new",
        initiator="alice",
        tasks=[
            {
                "app_image": "secretflow-image",
                "alias": "psi",
                "task_id": "psi",
                "tolerable": True,
                "schedule_config": {"task_timeout_seconds": 600},
                "parties": [
                    {
                        "domain_id": "alice",
                        "bandwidth_limits": [{"destination_id": "bob", "limit_kbps": 100}],
                    },
                    {"domain_id": "bob", "resources": {"cpu": "1", "bandwidth": "10"}},
                ],
            }
        ],
    )
    with channel(certs, grpc_port) as ch:
        call = ch.unary_unary(
            create.path,
            request_serializer=type(new_req).SerializeToString,
            response_deserializer=message(create.response).FromString,
        )
        assert call(new_req, metadata=META, timeout=30).status.code == 0
        query = OPS["query"]
        new_query = ch.unary_unary(
            query.path,
            request_serializer=message(query.request).SerializeToString,
            response_deserializer=message(query.response).FromString,
        )
        data = new_query(message(query.request)(job_id="job-new"), metadata=META, timeout=30).data
        task = data.tasks[0]
        assert task.schedule_config.task_timeout_seconds == 600
        assert task.parties[0].bandwidth_limits[0].limit_kbps == 100
        assert task.parties[1].resources.bandwidth == "10"

        old = job_pb2_grpc.JobServiceStub(ch).QueryJob(
            job_pb2.QueryJobRequest(job_id="job-new"), metadata=META
        )
        assert old.status.code == 0 and old.data.tasks[0].alias == "psi"
        assert [p.domain_id for p in old.data.tasks[0].parties] == ["alice", "bob"]


def test_watch_streams_and_credentials_are_checked(certs: PKI, grpc_port: int) -> None:  # noqa: F811
    with channel(certs, grpc_port) as ch:
        stub = job_pb2_grpc.JobServiceStub(ch)
        create = job_pb2.CreateJobRequest(job_id="job-w", initiator="alice", tasks=[old_task("psi")])
        assert stub.CreateJob(create, metadata=META).status.code == 0
        events = stub.WatchJob(job_pb2.WatchJobRequest(timeout_seconds=2), metadata=META, timeout=30)
        first = next(iter(events))
        assert first.type == job_pb2.ADDED and first.object.job_id == "job-w"
        events.cancel()

        for meta, text in (((), "token not found"), ((("token", "wrong"),), "token unauthorized")):
            with pytest.raises(grpc.RpcError) as err:
                stub.QueryJob(job_pb2.QueryJobRequest(job_id="job-w"), metadata=meta, timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and text in str(err.value.details())
    # As on Kuscia's gRPC port, a client without a certificate fails the handshake.
    with channel(certs, grpc_port, client_cert=False) as ch:
        with pytest.raises(grpc.RpcError) as err:
            job_pb2_grpc.JobServiceStub(ch).QueryJob(
                job_pb2.QueryJobRequest(job_id="job-w"), metadata=META, timeout=10
            )
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
