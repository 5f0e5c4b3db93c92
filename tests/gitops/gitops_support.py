"""Helpers for the GitOps tests: manifests, real Git repositories (pygit2), the real embedded engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import yaml

from reconciler.backends.local import LocalBackend
from reconciler.config import Config, EngineConfig, SourceConfig, StatusConfig

SIG = pygit2.Signature("Test Author", "author@example.com", 1_700_000_000, 0)
APP = "noop-image"


def job_doc(
    name: str, aliases: tuple[str, ...] = ("psi",), initiator: str = "alice", **extra: object
) -> dict:
    tasks = []
    prev = None
    for alias in aliases:
        t: dict = {
            "alias": alias,
            "appImage": APP,
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
        }
        if prev:
            t["dependencies"] = [prev]
        tasks.append(t)
        prev = alias
    spec = {"initiator": initiator, "tasks": tasks}
    spec.update(extra)
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def appimage_doc(command: str = "exit 0") -> dict:
    return {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "AppImage",
        "metadata": {"name": APP},
        "spec": {
            "image": {"name": "noop", "tag": "1"},
            "deployTemplates": [
                {
                    "name": "noop",
                    "replicas": 1,
                    "spec": {
                        "containers": [
                            {"name": "noop", "command": ["sh", "-c", command], "workingDir": "/work"}
                        ]
                    },
                }
            ],
        },
    }


def dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def write(root: Path, rel: str, doc: dict | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else dump(doc), encoding="utf-8")
    return path


def local_backend(state: Path) -> LocalBackend:
    return LocalBackend(state, trusted_appimages=[APP], auto_approve=["alice", "bob"], autostart=False)


def config(source: Path | str, state: Path, **kw: object) -> Config:
    cfg = Config(
        source=SourceConfig(path=str(source), git=bool(kw.pop("git", False)), ref=str(kw.pop("ref", ""))),
        engine=EngineConfig(
            state_dir=str(state), trusted_appimages=[APP], auto_approve=["alice", "bob"], autostart=False
        ),
        status=StatusConfig(dir=str(kw.pop("status_dir", "")), push=bool(kw.pop("push", True))),
    )
    cfg.prune.enabled = bool(kw.pop("prune", False))
    assert not kw, kw
    return cfg


def write_config(path: Path, state: Path, extra: str = "") -> Path:
    path.write_text(
        "engine:\n"
        f"  state_dir: {state}\n"
        f"  trusted_appimages: [{APP}]\n"
        "  auto_approve: [alice, bob]\n"
        "  autostart: false\n" + extra,
        encoding="utf-8",
    )
    return path


class Repo:
    """A Git repository with a working tree, written with pygit2 only; ``commit`` builds trees in memory."""

    def __init__(self, path: Path, bare: bool = False, branch: str = "main") -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), bare=bare, initial_head=branch)
        self.branch = branch
        self.files: dict[str, bytes] = {}

    def commit(self, files: dict[str, dict | str | None], message: str = "change", branch: str = "") -> str:
        """Apply the changes (None deletes) on top of the branch's files and commit; the work tree follows."""
        branch = branch or self.branch
        for rel, doc in files.items():
            if doc is None:
                self.files.pop(rel, None)
            else:
                self.files[rel] = (doc if isinstance(doc, str) else dump(doc)).encode()
        index = pygit2.Index()
        for rel, data in sorted(self.files.items()):
            index.add(pygit2.IndexEntry(rel, self.repo.create_blob(data), pygit2.enums.FileMode.BLOB))
        tree = index.write_tree(self.repo)
        ref = self.repo.references.get(f"refs/heads/{branch}")
        parents = [ref.target] if ref is not None else []
        oid = self.repo.create_commit(f"refs/heads/{branch}", SIG, SIG, message, tree, parents)
        if not self.repo.is_bare and branch == self.branch:
            self.repo.checkout_tree(self.repo[tree], strategy=pygit2.enums.CheckoutStrategy.FORCE)
            self.repo.index.read_tree(self.repo[tree])
            self.repo.index.write()
        return str(oid)

    def reset_branch(self, oid: str, branch: str = "") -> None:
        """Point the branch at an older commit (a force push, seen from the remote)."""
        self.repo.references.create(f"refs/heads/{branch or self.branch}", pygit2.Oid(hex=oid), force=True)
        self.files = {}
        stack = [("", self.repo[oid].peel(pygit2.Commit).tree)]
        while stack:
            prefix, tree = stack.pop()
            for e in tree:
                obj = self.repo[e.id]
                if isinstance(obj, pygit2.Tree):
                    stack.append((prefix + e.name + "/", obj))
                else:
                    self.files[prefix + e.name] = bytes(obj.data)


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll a condition with a deadline (for events that happen in other threads or processes)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
