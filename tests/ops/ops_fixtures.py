"""Helpers for the job/task operation tests, on the real embedded engine (``LocalBackend``, SQLite store).

``put_job`` stores a job and its tasks in a given phase straight into the engine's store (no engine driver
runs, ``autostart`` is off), so each phase rule and view is tested without waiting for processes;
``appimage`` + ``LocalBackend.run_until`` run real jobs end to end where the behaviour needs the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.backends.local import LocalBackend
from reconciler.model import Resource

NS = "cross-domain"
TRUSTED = "ops-*"


def make_backend(state_dir: Path, workspace: Path | None = None) -> LocalBackend:
    return LocalBackend(
        state_dir,
        trusted_appimages=[TRUSTED],
        auto_approve=["bob"],
        workspace=workspace or state_dir.parent,
        kill_grace_seconds=0.5,
        autostart=False,
    )


def config_text(state_dir: Path) -> str:
    """A kgitops.yaml that makes the CLI open the same engine state, without a background driver."""
    return (
        "engine:\n"
        f"  state_dir: {state_dir}\n"
        f"  trusted_appimages: ['{TRUSTED}']\n"
        "  auto_approve: [bob]\n"
        "  autostart: false\n"
        "  kill_grace_seconds: 0.5\n"
    )


def appimage(name: str, script: str) -> Resource:
    """An AppImage whose one container runs ``sh -c script``."""
    return Resource.from_manifest(
        {
            "kind": "AppImage",
            "metadata": {"name": name},
            "spec": {
                "image": {"name": name, "tag": "1"},
                "deployTemplates": [
                    {
                        "name": "main",
                        "replicas": 1,
                        "spec": {
                            "containers": [
                                {"name": "main", "command": ["sh", "-c", script], "workingDir": "/work"}
                            ]
                        },
                    }
                ],
            },
        }
    )


def job_manifest(
    name: str,
    tasks: list[dict[str, Any]] | None = None,
    app: str = "ops-ok",
    domains: tuple[str, ...] = ("alice", "bob"),
    **spec: Any,
) -> dict[str, Any]:
    """A KusciaJob manifest; ``tasks`` default to psi → split, both for alice and bob (bob approves by
    himself: ``auto_approve``)."""
    parties = [{"domainID": d} for d in domains]
    if tasks is None:
        tasks = [
            {"alias": "psi", "taskID": f"{name}-psi", "appImage": app, "taskInputConfig": "{}",
             "parties": parties},
            {"alias": "split", "taskID": f"{name}-split", "appImage": app, "taskInputConfig": "{}",
             "parties": parties, "dependencies": ["psi"]},
        ]  # fmt: skip
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"initiator": "alice", "scheduleMode": "Strict", "maxParallelism": 1, "tasks": tasks, **spec},
    }


def put_job(
    backend: LocalBackend,
    name: str,
    phase: str = "Running",
    task_phases: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    **spec: Any,
) -> Resource:
    """Store a job in a phase, with KusciaTasks (owned by it) in the given phases (alias → phase)."""
    obj = Resource.from_manifest(job_manifest(name, **spec))
    obj.labels.update(labels or {})
    obj.annotations.update(annotations or {})
    job = backend.create(obj)
    task_status = {}
    for t in job.spec["tasks"]:
        ph = (task_phases or {}).get(t["alias"])
        if ph is None:
            continue
        task_status[t["taskID"]] = ph
        parties = t["parties"]
        task = Resource(
            kind="KusciaTask",
            name=t["taskID"],
            namespace=NS,
            annotations={"kuscia.secretflow/job-id": name, "kuscia.secretflow/task-alias": t["alias"]},
            spec={"initiator": "alice",
                  "parties": [{"domainID": p["domainID"], "appImageRef": t["appImage"]} for p in parties]},
            status={"phase": ph, "startTime": "2026-01-02T03:05:00Z",
                    "partyTaskStatus": [{"domainID": p["domainID"], "phase": ph} for p in parties]},
        )  # fmt: skip
        backend.store.create(task, owner=job.uid)
    job.status = {"phase": phase, "taskStatus": task_status, **(status or {})}
    return backend.store.put(job)


APPS = {
    "ops-ok": "echo ok from $KGITOPS_POD_KEY",
    "ops-fail": "echo failing >&2; exit 3",
    "ops-sleep": "echo sleeping; exec sleep 60",
}


def add_apps(backend: LocalBackend) -> None:
    for name, script in APPS.items():
        if backend.get(appimage(name, script).ref) is None:
            backend.create(appimage(name, script))


def drive(
    backend: LocalBackend,
    name: str,
    *phases: str,
    task_phase: tuple[str, str] | None = None,
    timeout: float = 20.0,
) -> Resource:
    """Run the engine in this process until job ``name`` is in one of ``phases`` (and, with ``task_phase``
    = (alias, phase), that task too); then let go of the engine so a CLI command can drive it."""
    from reconciler.model import ObjectRef

    ref = ObjectRef.of("KusciaJob", name)

    def reached() -> bool:
        job = backend.get(ref)
        if job is None or str(job.status.get("phase") or "") not in phases:
            return False
        if task_phase is None:
            return True
        task = backend.get(ObjectRef.of("KusciaTask", f"{name}-{task_phase[0]}"))
        return task is not None and task.status.get("phase") == task_phase[1]

    try:
        assert backend.run_until(reached, timeout), f"job {name} never reached {phases}: {backend.get(ref)}"
        job = backend.get(ref)
        if job is not None and job.status.get("phase") in ("Succeeded", "Failed", "Cancelled"):
            # let the engine finish its bookkeeping (task completion, process collection)
            backend.run_until(lambda: not backend.engine.busy(), timeout)
    finally:
        backend.lock.release()
    job = backend.get(ref)
    assert job is not None
    return job
