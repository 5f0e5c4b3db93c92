"""``serve`` drives the embedded engine event by event: a job created through its KusciaAPI starts, and its
task's exit is seen, without the driver polling."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

from reconciler.backends.local import LocalBackend
from reconciler.model import Resource
from reconciler.serve.http import KusciaAPIServer
from reconciler.serve.service import JobService

APP = Resource.from_manifest(
    {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "AppImage",
        "metadata": {"name": "app"},
        "spec": {
            "image": {"name": "app", "tag": "1"},
            "deployTemplates": [
                {
                    "name": "main",
                    "replicas": 1,
                    "spec": {"containers": [{"name": "main", "command": ["true"], "workingDir": "/work"}]},
                }
            ],
        },
    }
)


def post(port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        reply: dict[str, Any] = json.loads(conn.getresponse().read())
        return reply
    finally:
        conn.close()


def state_of(port: int, job_id: str) -> str:
    reply = post(port, "/api/v1/job/query", {"job_id": job_id})
    return str(reply["data"]["status"]["state"]) if reply["status"]["code"] == 0 else ""


def test_jobs_created_through_serve_run_while_its_driver_would_otherwise_rest_an_hour(tmp_path: Path) -> None:
    """The driver's longest rest is an hour here: each job only finishes because the create ends the rest
    and the task's process exit ends the next one."""
    state = tmp_path / "state"
    with LocalBackend(state, autostart=False) as setup:
        setup.create(APP)

    def factory() -> LocalBackend:
        return LocalBackend(state, trusted_appimages=["app"], workspace=tmp_path, autostart=False)

    service = JobService(factory, "cross-domain", rest_seconds=3600.0)
    server = KusciaAPIServer(service, "127.0.0.1", 0, None, None).start()
    try:
        for n in range(3):  # each one submitted while the driver rests after the last
            job_id = f"job-served-{n}"
            task = {
                "app_image": "app",
                "alias": "a",
                "task_id": f"{job_id}-a",
                "task_input_config": "{}",
                "parties": [{"domain_id": "alice"}],
            }
            request = {"job_id": job_id, "initiator": "alice", "tasks": [task]}
            created = post(server.port, "/api/v1/job/create", request)
            assert created["status"]["code"] == 0, created
            deadline = time.monotonic() + 30  # a bound for a loaded machine, not a performance target
            while state_of(server.port, job_id) != "Succeeded":
                assert time.monotonic() < deadline, state_of(server.port, job_id)
                time.sleep(0.02)  # the test's own polling of what a user sees, not the driver's
    finally:
        server.stop()
        service.close()
