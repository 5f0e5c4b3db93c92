"""A test-sized stand-in for the engine's process runtime, following the runtime contract to the letter.

It renders the example AppImage's configTemplate, allocates real free ports on 127.0.0.1, builds the task
cluster define, and starts the AppImage's own container command as a subprocess per party, with the
contract's environment and working directory. So the example apps are tested exactly as the engine will
run them, before (and independently of) the engine itself.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
APPS = EXAMPLES / "apps"
JOBS = EXAMPLES / "jobs"
APPIMAGE = EXAMPLES / "appimages" / "secretflow-image.yaml"
PLACEHOLDERS = ("TASK_ID", "TASK_INPUT_CONFIG", "TASK_CLUSTER_DEFINE", "ALLOCATED_PORTS")

if str(APPS) not in sys.path:
    sys.path.insert(0, str(APPS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def load_yaml(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc


def task_input_config(job: str, alias: str) -> str:
    """The taskInputConfig of one task of an example job, as the manifest has it."""
    doc = load_yaml(JOBS / f"{job}.yaml")
    if doc["kind"] == "KusciaTask":
        return str(doc["spec"]["taskInputConfig"])
    for task in doc["spec"]["tasks"]:
        if task["alias"] == alias:
            return str(task["taskInputConfig"])
    raise KeyError(alias)


def edit_config(config: str, **changes: Any) -> str:
    """A taskInputConfig with top-level keys replaced; ``attrs={path: attr}`` replaces single attrs."""
    doc = json.loads(config)
    attrs = changes.pop("attrs", {})
    doc.update(changes)
    node = doc["sf_node_eval_param"]
    for path, value in attrs.items():
        if path in node["attr_paths"]:
            node["attrs"][node["attr_paths"].index(path)] = value
        else:
            node["attr_paths"].append(path)
            node["attrs"].append(value)
    return json.dumps(doc)


def render(template: str, values: dict[str, str]) -> str:
    """The contract's rendering: each value escaped as the inside of a JSON string."""
    out = template
    for name in PLACEHOLDERS:
        escaped = json.dumps(values[name])[1:-1]
        out = out.replace("{{." + name + "}}", escaped).replace("{{ ." + name + " }}", escaped)
    return out


@dataclass
class PartyRun:
    domain: str
    pod_dir: Path
    storage: Path
    proc: subprocess.Popen[bytes]
    returncode: int | None = None

    @property
    def log(self) -> str:
        logs = sorted((self.pod_dir / "logs").glob("*.log"))
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)


class Runtime:
    """Runs every party of one task like the engine would (see module docstring)."""

    def __init__(self, state_dir: Path, workspace: Path = EXAMPLES) -> None:
        self.state_dir = state_dir
        self.workspace = workspace
        self.appimage = load_yaml(APPIMAGE)["spec"]

    def storage(self, domain: str) -> Path:
        return self.state_dir / "storage" / domain / "data"

    def container(self) -> dict[str, Any]:
        c: dict[str, Any] = self.appimage["deployTemplates"][0]["spec"]["containers"][0]
        return c

    def allocate(self, parties: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """A real free port on 127.0.0.1 for every port the AppImage declares, per party."""
        return {d: {p["name"]: free_port() for p in self.container()["ports"]} for d in parties}

    def launch(
        self,
        task_id: str,
        config: str,
        domain: str,
        parties: tuple[str, ...],
        ports: dict[str, dict[str, int]],
        endpoint_override: dict[str, str] | None = None,
    ) -> PartyRun:
        """Start one party; ``endpoint_override`` changes the spu endpoint the *other* parties are given."""
        container = self.container()
        override = endpoint_override or {}
        cluster = {
            "parties": [
                {
                    "name": d,
                    "role": "",
                    "services": [
                        {
                            "portName": name,
                            "endpoints": [
                                override[d]
                                if name == "spu" and d in override and d != domain
                                else f"127.0.0.1:{port}"
                            ],
                        }
                        for name, port in ports[d].items()
                    ],
                }
                for d in parties
            ],
            "selfPartyIdx": parties.index(domain),
            "selfEndpointIdx": 0,
        }
        allocated = {
            "ports": [
                {"name": n, "port": p, "scope": "Cluster", "protocol": "GRPC"}
                for n, p in ports[domain].items()
            ]
        }
        values = {
            "TASK_ID": task_id,
            "TASK_INPUT_CONFIG": config,
            "TASK_CLUSTER_DEFINE": json.dumps(cluster),
            "ALLOCATED_PORTS": json.dumps(allocated),
        }
        pod = self.state_dir / "pods" / task_id / f"{domain}-0"
        workdir = pod / container["workingDir"].lstrip("/")
        for mount in container["configVolumeMounts"]:
            target = pod / mount["mountPath"].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(self.appimage["configTemplates"][mount["subPath"]], values))
        workdir.mkdir(parents=True, exist_ok=True)
        (pod / "logs").mkdir(parents=True, exist_ok=True)
        storage = self.storage(domain)
        storage.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "KUSCIA_DOMAIN_ID": domain,
            "KUSCIA_TASK_ID": task_id,
            "KGITOPS_POD_DIR": str(pod),
            "KGITOPS_STORAGE_DIR": str(storage),
            "KGITOPS_WORKSPACE": str(self.workspace),
            "KGITOPS_PYTHON": sys.executable,
        }
        with (pod / "logs" / f"{container['name']}.log").open("wb") as log:
            proc = subprocess.Popen(
                container["command"] + container.get("args", []),
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return PartyRun(domain, pod, storage, proc)

    def start(
        self,
        task_id: str,
        config: str,
        parties: tuple[str, ...] = ("alice", "bob"),
        *,
        order: tuple[str, ...] | None = None,
    ) -> dict[str, PartyRun]:
        """Start the parties in ``order`` (default: party order); one left out of ``order`` never starts."""
        ports = self.allocate(parties)
        return {d: self.launch(task_id, config, d, parties, ports) for d in order or parties}

    @staticmethod
    def wait(runs: dict[str, PartyRun], timeout: float = 60) -> dict[str, PartyRun]:
        try:
            for r in runs.values():
                r.returncode = r.proc.wait(timeout=timeout)
        finally:
            for r in runs.values():
                if r.proc.poll() is None:
                    r.proc.kill()
                    r.proc.wait()
        return runs

    def run(self, task_id: str, config: str, timeout: float = 60, **kwargs: Any) -> dict[str, PartyRun]:
        return self.wait(self.start(task_id, config, **kwargs), timeout)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_workspace(root: Path, alice_ids: list[str], bob_ids: list[str]) -> Path:
    """A workspace like examples/ (apps are the real ones) with small tables of the given ids."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (root / "apps").symlink_to(APPS, target_is_directory=True)
    for name, key, feature, ids in (("alice", "id1", "age", alice_ids), ("bob", "id2", "score", bob_ids)):
        with (data / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow([key, feature])
            w.writerows([uid, str(i % 97)] for i, uid in enumerate(ids))
    return root
