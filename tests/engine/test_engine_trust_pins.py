"""What runs is what was trusted: a job runs its AppImages as they were when the job was created, so a command
changed afterwards (in Git, or by hand) never runs inside a job that was already created and approved. It runs
only for jobs created after the change (README "Trust model", docs/engine.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pygit2
import yaml

from reconciler.apply.session import open_session
from reconciler.backends.local import LocalBackend
from reconciler.config import Config, EngineConfig, SourceConfig
from reconciler.engine.pins import spec_digest
from reconciler.model import ObjectRef, Stage

from .engine_fixtures import appimage, kjob

PARTIES = [{"domainID": "alice"}, {"domainID": "carol"}]  # carol must approve (not auto-approved)


def commit(repo: pygit2.Repository, files: dict[str, dict[str, Any]]) -> None:
    """Commit these files (replacing their earlier content) on main; nothing is checked out."""
    sig = pygit2.Signature("Test", "test@example.com", 1_700_000_000, 0)
    head = repo.references.get("refs/heads/main")
    index = pygit2.Index()
    if head is not None:
        index.read_tree(head.peel(pygit2.Commit).tree)
    for rel, doc in files.items():
        blob = repo.create_blob(yaml.safe_dump(doc).encode())
        index.add(pygit2.IndexEntry(rel, blob, pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo)
    repo.create_commit("refs/heads/main", sig, sig, "change", tree, [head.target] if head is not None else [])


def writes(word: str) -> str:
    return f'echo {word} >> "$KGITOPS_STORAGE_DIR/ran.txt"'


def ran(b: LocalBackend, domain: str = "alice") -> list[str]:
    path = b.state_dir / "storage" / domain / "data" / "ran.txt"
    return path.read_text().split() if path.exists() else []


def finished(b: LocalBackend, name: str) -> str:
    def done() -> bool:
        job = b.get(ObjectRef.of("KusciaJob", name))
        return job is not None and bool(job.status.get("completionTime"))

    assert b.run_until(done, timeout=20)
    job = b.get(ObjectRef.of("KusciaJob", name))
    assert job is not None
    return str(job.status.get("phase"))


def awaiting(b: LocalBackend, name: str) -> None:
    def waiting() -> bool:
        job = b.get(ObjectRef.of("KusciaJob", name))
        return job is not None and job.status.get("phase") == "AwaitingApproval"

    assert b.run_until(waiting, timeout=10)


def test_a_changed_command_does_not_run_in_a_job_created_before(backend: LocalBackend) -> None:
    backend.create(appimage("app", writes("old")))
    backend.create(kjob("before", [{"alias": "a", "parties": PARTIES}]))
    awaiting(backend, "before")
    app = backend.get(ObjectRef.of("AppImage", "app"))
    assert app is not None
    changed = copy.deepcopy(app)
    changed.spec["deployTemplates"][0]["spec"]["containers"][0]["command"] = ["sh", "-c", writes("new")]
    backend.update(changed)
    backend.approve(ObjectRef.of("KusciaJob", "before"), "carol", accept=True)
    assert finished(backend, "before") == "Succeeded"
    assert ran(backend) == ran(backend, "carol") == ["old"]
    # a job created after the change runs the new command
    backend.create(kjob("after", [{"alias": "a", "parties": PARTIES}]))
    backend.approve(ObjectRef.of("KusciaJob", "after"), "carol", accept=True)
    assert finished(backend, "after") == "Succeeded"
    assert ran(backend) == ["old", "new"]


def test_a_restart_runs_what_the_job_was_created_with(backend: LocalBackend) -> None:
    backend.create(appimage("app", writes("first") + "; exit 1"))
    job = backend.create(kjob("again", [{"alias": "a"}]))
    assert finished(backend, "again") == "Failed"
    app = backend.get(ObjectRef.of("AppImage", "app"))
    assert app is not None
    app.spec["deployTemplates"][0]["spec"]["containers"][0]["command"] = ["sh", "-c", writes("second")]
    backend.update(app)
    backend.stage(job.ref, Stage.RESTART)
    assert finished(backend, "again") == "Failed"  # the pinned command fails again
    assert ran(backend) == ["first", "first"]
    # recreated, the job is new: it runs the AppImage as it is now
    backend.delete(job.ref)
    backend.create(kjob("again", [{"alias": "a"}]))
    assert finished(backend, "again") == "Succeeded"
    assert ran(backend) == ["first", "first", "second"]


def test_the_pin_is_the_content_at_creation_and_goes_with_the_job(backend: LocalBackend) -> None:
    app = backend.create(appimage("app", writes("x")))
    job = backend.create(kjob("pinned", [{"alias": "a", "parties": PARTIES}]))
    (pin,) = backend.store.pins(job.uid)
    assert pin.name == "app" and pin.digest == spec_digest(app.spec) and pin.digest.startswith("sha256:")
    backend.delete(job.ref)
    assert backend.store.pins(job.uid) == []
    # an AppImage that does not exist yet when the job is created is pinned at the job's first launch
    late = backend.create(kjob("late", [{"alias": "a", "appImage": "app-late"}]))
    assert backend.store.pins(late.uid) == []
    backend.create(appimage("app-late", writes("late")))
    assert finished(backend, "late") == "Succeeded"
    assert [p.name for p in backend.store.pins(late.uid)] == ["app-late"]


def test_a_command_changed_in_git_after_the_job_was_synced_does_not_run_in_it(tmp_path: Path) -> None:
    """The reported case: the job is synced and waits for approval; a commit then changes the AppImage's
    command and is synced (AppImages are updated in place); the approved job runs the command it was created
    with."""
    repo = pygit2.init_repository(str(tmp_path / "repo"), bare=True, initial_head="main")
    app = appimage("app", writes("reviewed"))
    job = kjob("job-x", [{"alias": "a", "parties": PARTIES}])
    manifest = {"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "AppImage", "metadata": {"name": "app"}}
    commit(repo, {"app.yaml": {**manifest, "spec": app.spec}, "job.yaml": job.to_manifest()})
    state = tmp_path / "state"
    cfg = Config(
        source=SourceConfig(path=str(tmp_path / "repo"), git=True),
        engine=EngineConfig(state_dir=str(state), trusted_appimages=["app"], autostart=False),
    )
    cfg.status.commit = False
    backend = LocalBackend(state, trusted_appimages=["app"], autostart=False, workspace=tmp_path)
    try:
        session = open_session(cfg, backend)
        session.reconciler.sync()
        awaiting(backend, "job-x")
        evil = copy.deepcopy(app.spec)
        evil["deployTemplates"][0]["spec"]["containers"][0]["command"] = ["sh", "-c", writes("injected")]
        commit(repo, {"app.yaml": {**manifest, "spec": evil}})
        _, result = session.reconciler.sync()
        live = backend.get(ObjectRef.of("AppImage", "app"))
        assert live is not None and "injected" in str(live.spec)  # the AppImage itself was updated
        backend.approve(ObjectRef.of("KusciaJob", "job-x"), "carol", accept=True)
        assert finished(backend, "job-x") == "Succeeded"
        assert ran(backend) == ran(backend, "carol") == ["reviewed"]
    finally:
        for j in backend.list("KusciaJob"):
            backend.delete(j.ref)
        backend.close()
