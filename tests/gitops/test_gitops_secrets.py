"""Secrets stay out of Git and out of what kgitops prints: a task's output never reaches a status file or the
status branch (``job logs`` shows it), and a token in a Git URL (user-info or query string) is masked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
import yaml

from reconciler.model import ObjectRef
from reconciler.source import GitSource, SourceError
from reconciler.status import StatusBranch, StatusCommitError, StatusRecord, SyncState
from reconciler.urls import redact_url, redact_urls

from .gitops_support import Repo, appimage_doc, job_doc, write_config

SECRET = "kgitops-test-secret-7f3a9c0e"


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def every_object_of(repo: pygit2.Repository, ref: str) -> list[bytes]:
    """The bytes of every commit, tree and blob reachable from ``ref`` (all of its history)."""
    seen: set[str] = set()
    out: list[bytes] = []
    tip = repo.references[ref].peel(pygit2.Commit)
    stack: list[pygit2.Oid] = [tip.id]
    while stack:
        oid = stack.pop()
        if str(oid) in seen:
            continue
        seen.add(str(oid))
        obj = repo[oid]
        out.append(repo.odb.read(oid)[1])
        if isinstance(obj, pygit2.Commit):
            stack.extend(obj.parent_ids)
            stack.append(obj.tree_id)
        elif isinstance(obj, pygit2.Tree):
            stack.extend(e.id for e in obj)
    return out


def test_a_secret_a_task_prints_reaches_no_status_file_and_no_status_commit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    script = f'echo "connecting with password={SECRET}"; echo "token {SECRET} rejected" >&2; exit 4'
    repo.commit({"apps/noop.yaml": appimage_doc(script), "jobs/job-a.yaml": job_doc("job-a")})
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    status_dir = tmp_path / "status"
    repo_dir = tmp_path / "repo"
    out = kgitops("sync", repo_dir, "--git", f"--config={cfg}", f"--status-dir={status_dir}", "--wait")
    assert "Traceback" not in out.stderr, out.stderr
    job_file = status_dir / "cross-domain" / "KusciaJob" / "job-a.yaml"
    live = yaml.safe_load(job_file.read_text(encoding="utf-8"))["live"]
    assert live["phase"] == "Failed", live
    # why it failed, and where to look
    assert "exit code 4" in live["message"] and "kgitops job logs job-a" in live["message"]
    for path in status_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    r = pygit2.Repository(str(tmp_path / "repo"))
    objects = every_object_of(r, "refs/heads/kgitops/status")
    assert any(b"job-a" in o for o in objects)  # the status branch was written
    assert not [o for o in objects if SECRET.encode() in o]
    # the output is where it belongs: `job logs`
    logs = kgitops("job", "logs", "job-a", "--config", cfg)
    assert logs.returncode == 0, logs.stderr
    assert f"connecting with password={SECRET}" in logs.stdout
    # and a second sync (status rewritten from the final state) still carries nothing of it
    kgitops("sync", tmp_path / "repo", "--git", "--config", cfg, "--status-dir", status_dir)
    assert not [o for o in every_object_of(r, "refs/heads/kgitops/status") if SECRET.encode() in o]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://git.example.invalid/org/jobs.git?access_token={SECRET}",
            "https://git.example.invalid/org/jobs.git?access_token=***",
        ),
        (f"https://git.example.invalid/jobs.git?token={SECRET}", "https://git.example.invalid/jobs.git?token=***"),
        (
            f"https://git.example.invalid/jobs.git?ref=main&private_token={SECRET}",
            "https://git.example.invalid/jobs.git?ref=***&private_token=***",
        ),
        (f"https://oauth2:{SECRET}@git.example.invalid/jobs.git", "https://***@git.example.invalid/jobs.git"),
        (
            f"https://bot:{SECRET}@git.example.invalid/jobs.git?access_token={SECRET}#{SECRET}",
            "https://***@git.example.invalid/jobs.git?access_token=***#***",
        ),
        (f"ssh://git.example.invalid/jobs.git?{SECRET}", "ssh://git.example.invalid/jobs.git?***"),
        ("https://git.example.invalid/jobs.git", "https://git.example.invalid/jobs.git"),
    ],
)
def test_url_credentials_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_urls(f"cannot clone '{url}': refused", url) == f"cannot clone '{shown}': refused"
    assert redact_urls(f"fetch {url} failed") == f"fetch {shown} failed"


def test_a_query_string_token_never_reaches_ids_messages_or_output(tmp_path: Path) -> None:
    url = f"https://git.example.invalid/org/jobs.git?access_token={SECRET}"
    src = GitSource(url, cache_dir=tmp_path / "cache")
    assert SECRET not in src.source_id and SECRET not in src.describe()
    assert "access_token=***" in src.describe()
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert SECRET not in str(err.value)
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    for command in ("diff", "sync", "validate"):
        out = kgitops(command, url, "--config", cfg)
        assert out.returncode != 0
        assert SECRET not in out.stdout + out.stderr, (command, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr


def test_a_failed_status_push_does_not_show_the_remotes_token(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/job-a.yaml": job_doc("job-a")})
    r = pygit2.Repository(str(tmp_path / "repo"))
    r.remotes.create("origin", f"https://127.0.0.1:1/org/jobs.git?access_token={SECRET}")
    branch = StatusBranch(r, push=True, retries=1)
    record = StatusRecord(ObjectRef.of("KusciaJob", "job-a"), SyncState.SYNCED, "abc", "jobs/job-a.yaml")
    with pytest.raises(StatusCommitError) as err:
        branch.commit([record])
    assert SECRET not in str(err.value)
