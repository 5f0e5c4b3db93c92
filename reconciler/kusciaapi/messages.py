"""KusciaAPI's protobuf messages, compiled from ``proto/kusciaapi.proto`` when first used.

grpcio-tools' bundled protoc turns the ``.proto`` into a ``FileDescriptorSet`` (no protoc binary, no generated
code in the repository); the messages are built in a descriptor pool of their own, so they never collide with
another copy of Kuscia's protocol loaded in the same process (the ``kuscia`` package's generated modules use
the same full names). Compiling takes about 0.1 s, once per process.

``message(name)`` gives a message class by its short name (``"CreateJobRequest"``); ``METHODS`` names every
RPC with its request and response messages, and ``OPS`` maps the HTTP paths (``/api/v1/job/<op>``) to them.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

PACKAGE = "kuscia.proto.api.v1alpha1.kusciaapi"
PROTO = "kusciaapi.proto"
JOB_SERVICE = f"{PACKAGE}.JobService"
HEALTH_SERVICE = f"{PACKAGE}.HealthService"


@dataclass(frozen=True)
class Method:
    """One RPC: its gRPC path, its request and response message names, and whether it streams replies."""

    service: str
    name: str
    request: str
    response: str
    streaming: bool = False

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


def _job(name: str, streaming: bool = False, request: str = "", response: str = "") -> Method:
    return Method(JOB_SERVICE, name, request or f"{name}Request", response or f"{name}Response", streaming)


# HTTP op (POST /api/v1/job/<op>) -> RPC; Kuscia's routes (pkg/kusciaapi/bean/http_server_bean.go)
OPS: dict[str, Method] = {
    "create": _job("CreateJob"),
    "query": _job("QueryJob"),
    "status/batchQuery": _job("BatchQueryJobStatus"),
    "stop": _job("StopJob"),
    "restart": _job("RestartJob"),
    "suspend": _job("SuspendJob"),
    "cancel": _job("CancelJob"),
    "delete": _job("DeleteJob"),
    "watch": _job("WatchJob", streaming=True, response="WatchJobEventResponse"),
    "approve": _job("ApproveJob"),
}
HEALTH = Method(HEALTH_SERVICE, "healthZ", "HealthRequest", "HealthResponse")


class ProtoError(RuntimeError):
    """The ``.proto`` could not be compiled (grpcio-tools missing or broken); the message says which."""


def _proto_dir() -> Path:
    return Path(str(resources.files("reconciler.kusciaapi") / "proto"))


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    try:
        from grpc_tools import protoc
    except ImportError as exc:  # pragma: no cover - a dependency of kgitops
        raise ProtoError(f"grpcio-tools is needed to compile KusciaAPI's messages: {exc}") from None
    include = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory(prefix="kgitops-proto-") as tmp:
        out = Path(tmp) / "kusciaapi.pb"
        rc = protoc.main(
            [
                "protoc",
                f"-I{_proto_dir()}",
                f"-I{include}",
                "--include_imports",
                f"--descriptor_set_out={out}",
                PROTO,
            ]
        )
        if rc != 0:
            raise ProtoError(f"protoc could not compile {_proto_dir() / PROTO} (exit {rc})")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return pool


@functools.cache
def _classes() -> dict[str, type[Message]]:
    pool = _pool()
    files = [pool.FindFileByName(PROTO)]
    built: dict[str, Any] = message_factory.GetMessageClassesForFiles([f.name for f in files], pool)
    prefix = PACKAGE + "."
    return {name[len(prefix) :]: cls for name, cls in built.items() if name.startswith(prefix)}


def message(name: str) -> type[Message]:
    """The message class named ``name`` in KusciaAPI's package, e.g. ``message("QueryJobResponse")``."""
    return _classes()[name]
