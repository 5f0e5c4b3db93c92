"""From a KusciaTask and its AppImages to the exact processes to start (runtime contract).

Pure planning, given the allocated ports: pod directories, re-rooted paths, rendered config files,
argv, environment. ``runtime/process.py`` then writes the files and starts the processes.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.engine.appimage_trust import is_trusted, untrusted_message
from reconciler.engine.config_templates import render
from reconciler.engine.outputs import output_dir, owner_of
from reconciler.engine.runtime.base import LaunchError
from reconciler.filenames import fitting_name
from reconciler.kuscia.conditions import REASON_UNTRUSTED_APPIMAGE
from reconciler.model import AppImageSpec, Resource, TaskSpec
from reconciler.model.objects import APP_IMAGE

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class ContainerPlan:
    domain: str
    replica: int
    pod: str  # <domain>-<replica>
    container: str
    pod_dir: Path
    cwd: Path
    argv: list[str]
    env: dict[str, str]
    files: dict[Path, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.pod}/{self.container}"


@dataclass
class PartyPlan:
    domain: str
    role: str
    template: dict[str, Any]
    ports: list[dict[str, str]]  # declared ports: name, protocol, scope


# what a ``pods/.previous/`` entry adds to the task's name: ``-<uid prefix>-<time_ns>`` (``runtime.process``)
PREVIOUS_ROOM = len("-12345678-") + 19


def task_dir(state_dir: Path, task: str) -> Path:
    """The folder of task ``task``'s pods on the embedded engine: ``<state_dir>/pods/<task>`` (the name
    shortened when it does not fit in a file name, ``reconciler.filenames.fitting_name``)."""
    return state_dir / "pods" / fitting_name(task)


def previous_task_prefix(task: str) -> str:
    """The start of the names of task ``task``'s earlier attempts in ``pods/.previous/``, before
    ``-<uid prefix>-<time_ns>``."""
    return fitting_name(task, room=PREVIOUS_ROOM)


def party_data_dir(state_dir: Path, domain: str) -> Path:
    """A party's data and task outputs on the embedded engine: ``<state_dir>/storage/<domain>/data``."""
    return state_dir / "storage" / domain / "data"


def check_name(kind: str, value: str) -> None:
    if not DNS1123.match(value) or ".." in value:
        raise LaunchError(
            "InvalidName",
            f"{kind} {value!r} is not a valid DNS-1123 name (lower case letters, digits, '-' and '.'); "
            "it is used as a directory name",
        )


def reroot(pod_dir: Path, path: str, cwd: Path | None = None) -> Path:
    """An absolute container path re-rooted under the pod directory; relative paths start at ``cwd``."""
    if posixpath.isabs(path):
        rel = posixpath.normpath(path).lstrip("/")
        out = pod_dir / rel if rel and rel != "." else pod_dir
    else:
        out = (cwd or pod_dir) / posixpath.normpath(path)
    resolved = Path(os.path.normpath(out))
    if resolved != pod_dir and pod_dir not in resolved.parents:
        raise LaunchError("InvalidPath", f"path {path!r} escapes the pod directory")
    return resolved


def plan_parties(
    task: Resource, lookup: Callable[[str], Resource | None], trusted: list[str]
) -> list[PartyPlan]:
    spec = TaskSpec.from_dict(task.spec)
    check_name("task", task.name)
    out = []
    for p in spec.parties:
        check_name("domain", p.domain_id)
        name = p.app_image_ref
        if not is_trusted(name, trusted):
            raise LaunchError(REASON_UNTRUSTED_APPIMAGE, untrusted_message(name))
        res = lookup(name)
        if res is None:
            raise LaunchError(
                "AppImageNotFound",
                f"{APP_IMAGE} {name} does not exist; add its manifest to the source "
                "(or `kgitops job create` it)",
                retry=True,
            )
        app = AppImageSpec.from_dict(res.spec)
        tmpl = app.deploy_template_for(p.role)
        containers = ((tmpl or {}).get("spec") or {}).get("containers") or []
        if not containers:
            raise LaunchError(
                "AppImageInvalid",
                f"{APP_IMAGE} {name} has no deployTemplate with containers for role {p.role!r}",
            )
        ports = []
        for c in containers:
            for port in c.get("ports") or ():
                ports.append(
                    {
                        "name": str(port.get("name", "")),
                        "protocol": str(port.get("protocol") or "HTTP"),
                        "scope": str(port.get("scope") or "Cluster"),
                    }
                )
        out.append(PartyPlan(p.domain_id, p.role, dict(tmpl or {}), ports))
    return out


def plan_containers(
    task: Resource,
    parties: list[PartyPlan],
    ports: dict[str, dict[str, int]],
    lookup: Callable[[str], Resource | None],
    state_dir: Path,
    workspace: Path,
) -> list[ContainerPlan]:
    spec = TaskSpec.from_dict(task.spec)
    cluster_parties = [
        {
            "name": pp.domain,
            "role": pp.role,
            "services": [
                {"portName": n, "endpoints": [f"127.0.0.1:{port}"]}
                for n, port in ports.get(pp.domain, {}).items()
            ],
        }
        for pp in parties
    ]
    python_dir = str(Path(sys.executable).parent)
    plans: list[ContainerPlan] = []
    for idx, (pp, party) in enumerate(zip(parties, spec.parties, strict=True)):
        res = lookup(party.app_image_ref)
        assert res is not None
        app = AppImageSpec.from_dict(res.spec)
        own = ports.get(pp.domain, {})
        meta = {m["name"]: m for m in pp.ports}
        allocated = {
            "ports": [
                {
                    "name": n,
                    "port": p,
                    "scope": meta.get(n, {}).get("scope", "Cluster"),
                    "protocol": meta.get(n, {}).get("protocol", "HTTP"),
                }
                for n, p in own.items()
            ]
        }
        replicas = int(pp.template.get("replicas") or 1)
        storage = party_data_dir(state_dir, pp.domain)
        outputs = output_dir(storage, owner_of(task)[0])
        for r in range(max(1, replicas)):
            pod = f"{pp.domain}-{r}"
            pod_dir = task_dir(state_dir, task.name) / pod
            values = {
                "TASK_ID": task.name,
                "TASK_INPUT_CONFIG": spec.task_input_config,
                "TASK_CLUSTER_DEFINE": json.dumps(
                    {"parties": cluster_parties, "selfPartyIdx": idx, "selfEndpointIdx": r}
                ),
                "ALLOCATED_PORTS": json.dumps(allocated),
            }
            for c in pp.template["spec"]["containers"]:
                cname = str(c.get("name") or "main")
                check_name("container", cname)
                env = {
                    str(e.get("name")): str(e.get("value", "")) for e in c.get("env") or () if e.get("name")
                }
                cwd = reroot(pod_dir, str(c.get("workingDir") or "/"))
                files: dict[Path, str] = {}
                for m in c.get("configVolumeMounts") or ():
                    sub = str(m.get("subPath", ""))
                    if sub not in app.config_templates:
                        raise LaunchError(
                            "AppImageInvalid",
                            f"{APP_IMAGE} {party.app_image_ref}: configVolumeMounts subPath {sub!r} has no "
                            "configTemplates entry",
                        )
                    target = reroot(pod_dir, str(m.get("mountPath", "")), cwd)
                    files[target] = render(app.config_templates[sub], values, env, own)
                argv = [str(x) for x in (c.get("command") or [])] + [str(x) for x in (c.get("args") or [])]
                if not argv:
                    raise LaunchError(
                        "AppImageInvalid",
                        f"{APP_IMAGE} {party.app_image_ref}: container {cname} has no command",
                    )
                full_env = {
                    "PATH": f"{python_dir}:{SAFE_PATH}",
                    "HOME": os.environ.get("HOME", str(pod_dir)),
                    "LANG": "C.UTF-8",
                    **env,
                    "KUSCIA_DOMAIN_ID": pp.domain,
                    "KUSCIA_TASK_ID": task.name,
                    "KGITOPS_POD_DIR": str(pod_dir),
                    "KGITOPS_STORAGE_DIR": str(storage),
                    "KGITOPS_OUTPUT_DIR": str(outputs),
                    "KGITOPS_WORKSPACE": str(workspace),
                    "KGITOPS_PYTHON": sys.executable,
                    "KGITOPS_POD_KEY": f"{task.uid}/{pod}/{cname}",
                }
                plans.append(ContainerPlan(pp.domain, r, pod, cname, pod_dir, cwd, argv, full_env, files))
    return plans
