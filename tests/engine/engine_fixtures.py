"""Manifests for the engine tests: AppImages running shell scripts, jobs with defaults filled in."""

from __future__ import annotations

from typing import Any

from reconciler.model import Resource


def appimage(
    name: str, script: str, ports: list[str] | None = None, env: dict[str, str] | None = None
) -> Resource:
    """An AppImage whose container runs ``sh -c script`` in /work with the task config mounted."""
    return Resource.from_manifest(
        {
            "apiVersion": "kuscia.secretflow/v1alpha1",
            "kind": "AppImage",
            "metadata": {"name": name},
            "spec": {
                "image": {"name": name, "tag": "1"},
                "configTemplates": {
                    "task-config.conf": '{"task_id": "{{.TASK_ID}}", "input": "{{.TASK_INPUT_CONFIG}}", '
                    '"cluster": "{{.TASK_CLUSTER_DEFINE}}", "ports": "{{.ALLOCATED_PORTS}}"}'
                },
                "deployTemplates": [
                    {
                        "name": "main",
                        "replicas": 1,
                        "spec": {
                            "containers": [
                                {
                                    "name": "main",
                                    "command": ["sh", "-c", script],
                                    "workingDir": "/work",
                                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                                    "configVolumeMounts": [
                                        {
                                            "mountPath": "/work/kuscia/task-config.conf",
                                            "subPath": "task-config.conf",
                                        }
                                    ],
                                    "ports": [
                                        {"name": p, "port": 1, "protocol": "GRPC", "scope": "Cluster"}
                                        for p in (ports or [])
                                    ],
                                }
                            ]
                        },
                    }
                ],
            },
        }
    )


def kjob(name: str, tasks: list[dict[str, Any]], initiator: str = "alice", **spec: Any) -> Resource:
    full = []
    for t in tasks:
        full.append(
            {
                "taskID": f"{name}-{t['alias']}",
                "appImage": "app",
                "taskInputConfig": "{}",
                "parties": [{"domainID": initiator}],
                **t,
            }
        )
    return Resource.from_manifest(
        {
            "kind": "KusciaJob",
            "metadata": {"name": name},
            "spec": {"initiator": initiator, "tasks": full, **spec},
        }
    )


def store_legacy(backend: Any, obj: Resource) -> Resource:
    """Put an object into the local backend's store as an older kgitops (or another writer) may have left it:
    past admission, which refuses it today, so the engine's own defences can be tested."""
    stored: Resource = backend.store.create(obj)
    return stored
