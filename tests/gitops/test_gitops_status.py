"""Status written back: files (atomic, only on change, names contained) and commits on the status branch."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from reconciler.apply.session import open_session
from reconciler.model import ObjectRef, Stage
from reconciler.status import StatusBranch, StatusFiles, StatusRecord, SyncState

from .gitops_support import Repo, config, job_doc, local_backend, write


def rec(
    name: str, state: str = SyncState.SYNCED, phase: str = "Running", kind: str = "KusciaJob"
) -> StatusRecord:
    return StatusRecord(ObjectRef.of(kind, name), state, "abc123", f"{name}.yaml", live={"phase": phase})


def add_file(repo: pygit2.Repository, ref: str, name: str, data: bytes) -> str:
    """Someone else's commit on ``ref``: its tree plus one top-level file."""
    tip = repo.references[ref].peel(pygit2.Commit)
    builder = repo.TreeBuilder(tip.tree)
    builder.insert(name, repo.create_blob(data), pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("someone", "someone@example.com")
    return str(repo.create_commit(ref, sig, sig, "theirs", builder.write(), [tip.id]))


def test_status_files_written_only_on_change_and_removed_when_gone(tmp_path: Path) -> None:
    files = StatusFiles(tmp_path / "status")
    assert files.write([rec("job-a"), rec("job-b")]) == ["job-a: new, Running", "job-b: new, Running"]
    path = tmp_path / "status/cross-domain/KusciaJob/job-a.yaml"
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert files.write([rec("job-a"), rec("job-b")]) == []
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # untouched
    assert files.write([rec("job-a", phase="Succeeded")]) == [
        "job-a: Running → Succeeded",
        "job-b: Running → removed",
    ]
    assert not (tmp_path / "status/cross-domain/KusciaJob/job-b.yaml").exists()
    assert "phase: Succeeded" in path.read_text()
    assert not list((tmp_path / "status").rglob(".tmp-*"))


def test_status_names_cannot_escape(tmp_path: Path) -> None:
    files = StatusFiles(tmp_path / "status")
    evil = [
        StatusRecord(ObjectRef("KusciaJob", "cross-domain", "../../etc"), SyncState.SYNCED),
        StatusRecord(ObjectRef("KusciaJob", "..", "job-a"), SyncState.SYNCED),
        StatusRecord(ObjectRef("../x", "cross-domain", "job-a"), SyncState.SYNCED),
        rec("appimg", kind="AppImage"),
    ]
    files.write(evil)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["status/.kgitops-status-memo.json", "status/_cluster/AppImage/appimg.yaml"]
    assert len(files.skipped) == 3


def test_status_commits_only_on_change_and_leave_the_tracked_branch_alone(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    tip = repo.commit({"job-a.yaml": job_doc("job-a")})
    (tmp_path / "repo" / "scratch.txt").write_text("uncommitted work")
    branch = StatusBranch(pygit2.Repository(str(tmp_path / "repo")))
    first = branch.commit([rec("job-a", phase="Running")])
    assert first is not None
    assert branch.commit([rec("job-a", phase="Running")]) is None  # nothing changed: no commit
    second = branch.commit([rec("job-a", phase="Succeeded")])
    r = pygit2.Repository(str(tmp_path / "repo"))
    commit = r[second]
    assert "job-a: Running → Succeeded" in commit.message
    assert [str(p) for p in commit.parent_ids] == [first]
    assert str(r.references["refs/heads/main"].target) == tip
    assert r.head.shorthand == "main"
    assert (tmp_path / "repo" / "scratch.txt").read_text() == "uncommitted work"
    assert not (tmp_path / "repo" / "cross-domain").exists()
    assert r.status() == {"scratch.txt": pygit2.enums.FileStatus.WT_NEW}


def test_status_branch_is_pushed_and_retried_on_top_of_a_moved_remote(tmp_path: Path) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    main_tip = remote.commit({"job-a.yaml": job_doc("job-a")})
    state = tmp_path / "state"
    cfg = config((tmp_path / "remote.git").as_uri(), state)
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        _, result = session.reconciler.sync()
        session.status.write(result)
        remote_ref = "refs/heads/kgitops/status"
        pushed = remote.repo.references[remote_ref].target
        assert "job-a: new, " in remote.repo[pushed].message
        # someone else moves the remote status branch (adds a file, keeps ours); our next push is rejected
        # and retried on top
        other = add_file(remote.repo, remote_ref, "note.txt", b"theirs")
        backend.stage(ObjectRef.of("KusciaJob", "job-a"), Stage.CANCEL)
        backend.step()
        _, result = session.reconciler.sync()
        assert session.status.write(result) == [] and not session.status.errors
        tip = remote.repo[remote.repo.references[remote_ref].target]
        assert [str(p) for p in tip.parent_ids] == [other]
        assert "job-a:" in tip.message and "→" in tip.message
        assert "note.txt" in [e.name for e in tip.tree]  # their file is kept
        assert str(remote.repo.references["refs/heads/main"].target) == main_tip
    finally:
        backend.close()


def test_no_push_keeps_the_branch_local(tmp_path: Path) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    state = tmp_path / "state"
    cfg = config((tmp_path / "remote.git").as_uri(), state, push=False)
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        _, result = session.reconciler.sync()
        session.status.write(result)
        assert session.status.branch is not None and session.status.branch.last_commit
        assert remote.repo.references.get("refs/heads/kgitops/status") is None
    finally:
        backend.close()


def test_status_dir_inside_the_source_is_not_read_as_manifests(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    state = tmp_path / "state"
    cfg = config(src, state, status_dir=src / "status")
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        _, result = session.reconciler.sync()
        session.status.write(result)
        assert (src / "status/cross-domain/KusciaJob/job-a.yaml").exists()
        planned = session.reconciler.plan()
        assert [e.ref.name for e in planned.plan.entries] == ["job-a"] and not planned.plan.held_files
    finally:
        backend.close()


def test_status_branch_may_not_be_the_tracked_branch(tmp_path: Path) -> None:
    from reconciler.source import SourceError

    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    cfg = config(tmp_path / "repo", tmp_path / "state", git=True)
    cfg.status.branch = "main"
    backend = local_backend(tmp_path / "state")
    try:
        with pytest.raises(SourceError, match="is the branch kgitops reads manifests from"):
            open_session(cfg, backend)
    finally:
        backend.close()


def test_a_first_batch_of_no_records_makes_no_commit_and_no_branch(tmp_path: Path) -> None:
    """A first sync where nothing is managed (every object someone else's) has no status to record: no
    `kgitops status: 0 changes` commit of an empty tree, no branch."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    branch = StatusBranch(pygit2.Repository(str(tmp_path / "repo")))
    assert branch.commit([]) is None
    assert branch.commit([]) is None
    assert repo.repo.references.get("refs/heads/kgitops/status") is None
    first = branch.commit([rec("job-a")])
    assert first is not None and "job-a: new, Running" in repo.repo[first].message
