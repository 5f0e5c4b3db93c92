"""Directory and Git sources: what they read, what they ignore, and how they follow a repository."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pygit2
import pytest

from reconciler.model import ObjectRef
from reconciler.plan.desired import DesiredStateBuilder
from reconciler.source import DirectorySource, GitSource, SourceError, SourceFile

from .gitops_support import Repo, dump, job_doc, wait_for, write


def test_directory_reads_manifests_sorted_and_skips_temp_and_status(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root, "b/job-b.yaml", job_doc("job-b"))
    write(root, "a.yml", job_doc("job-a"))
    write(root, ".job-a.yml.swp", "junk")
    write(root, "job.yaml~", "junk")
    write(root, "notes.txt", "not a manifest")
    write(root, "status/cross-domain/KusciaJob/job-a.yaml", "sync: {}")
    write(root, ".git/config.yaml", "x: 1")
    snap = DirectorySource(root, ignore=[root / "status"]).snapshot()
    assert [f.path for f in snap.files] == ["a.yml", "b/job-b.yaml"]
    assert snap.revision.startswith("sha256:")
    assert DirectorySource(root, ignore=[root / "status"]).snapshot().revision == snap.revision
    write(root, "a.yml", job_doc("job-a", ("x",)))
    assert DirectorySource(root).snapshot().revision != snap.revision


def test_directory_snapshot_keeps_no_copy_of_the_files_it_read(tmp_path: Path) -> None:
    """The bytes read to hash a file go to the first reader; a snapshot kept for a whole sync holds none of
    them (a 10,000-job source would otherwise stay in memory twice), and a second read sees the disk."""
    root = tmp_path / "src"
    write(root, "job-a.yaml", job_doc("job-a"))
    (file,) = DirectorySource(root).snapshot().files
    first = file.read()
    assert first == (root / "job-a.yaml").read_bytes()
    write(root, "job-a.yaml", job_doc("job-a", ("x",)))
    again = file.read()
    assert again == (root / "job-a.yaml").read_bytes() and again != first


def test_directory_symlink_leaving_root_is_a_problem(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere", "secret.yaml", job_doc("job-x"))
    root = tmp_path / "src"
    write(root, "ok.yaml", job_doc("job-ok"))
    os.symlink(outside, root / "link.yaml")
    snap = DirectorySource(root).snapshot()
    assert [f.path for f in snap.files] == ["ok.yaml"]
    assert [p.path for p in snap.problems] == ["link.yaml"]
    assert snap.problems[0].message.startswith("IO002 a symbolic link leading outside the source")


def test_missing_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        DirectorySource(tmp_path / "nope").snapshot()


def test_git_local_reads_committed_tree_not_the_work_tree(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    first = repo.commit({"jobs/job-a.yaml": job_doc("job-a"), "README.md": "hi"})
    write(tmp_path / "repo", "jobs/uncommitted.yaml", job_doc("job-u"))
    src = GitSource(str(tmp_path / "repo"))
    assert src.fetch() == first
    snap = src.snapshot(first)
    assert [f.path for f in snap.files] == ["jobs/job-a.yaml"]
    assert snap.revision == first
    assert b"job-a" in snap.files[0].read()


def test_git_ref_and_subpath(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"prod/job-a.yaml": job_doc("job-a"), "dev/job-d.yaml": job_doc("job-d")})
    repo.commit({"prod/job-b.yaml": job_doc("job-b")}, branch="release")
    src = GitSource(str(tmp_path / "repo"), ref="release", subpath="prod")
    assert [f.path for f in src.snapshot(src.fetch()).files] == ["job-a.yaml", "job-b.yaml"]
    main = GitSource(str(tmp_path / "repo"), subpath="prod")  # the default branch: HEAD's
    assert [f.path for f in main.snapshot(main.fetch()).files] == ["job-a.yaml"]
    with pytest.raises(SourceError, match="ref `nope` not found"):
        GitSource(str(tmp_path / "repo"), ref="nope").fetch()
    with pytest.raises(SourceError, match="path `missing` does not exist"):
        GitSource(str(tmp_path / "repo"), subpath="missing").snapshot()
    with pytest.raises(SourceError, match="not a Git repository"):
        GitSource(str(tmp_path)).fetch()


def test_git_url_is_cloned_bare_fetched_and_follows_a_force_push(tmp_path: Path) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    c1 = remote.commit({"job-a.yaml": job_doc("job-a")})
    c2 = remote.commit({"job-b.yaml": job_doc("job-b")})
    url = (tmp_path / "remote.git").as_uri()
    src = GitSource(url, cache_dir=tmp_path / "cache")
    assert src.fetch() == c2
    assert [f.path for f in src.snapshot(c2).files] == ["job-a.yaml", "job-b.yaml"]
    assert (tmp_path / "cache").is_dir() and not any((tmp_path / "cache").glob("*/job-a.yaml"))
    remote.reset_branch(c1)  # history rewritten: c2 is gone from the branch
    c3 = remote.commit({"job-c.yaml": job_doc("job-c")})
    assert src.fetch() == c3
    assert [f.path for f in src.snapshot(c3).files] == ["job-a.yaml", "job-c.yaml"]


def test_unreachable_url_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot clone"):
        GitSource((tmp_path / "absent.git").as_uri(), cache_dir=tmp_path / "cache").fetch()


def test_only_changed_blobs_are_parsed_again(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({f"jobs/{i:02d}/job-{i}.yaml": job_doc(f"job-{i}") for i in range(20)})
    src = GitSource(str(tmp_path / "repo"))
    builder = DesiredStateBuilder()
    snap = src.snapshot(src.fetch())
    state = builder.build(snap.source_id, snap.revision, snap.files)
    assert builder.parsed_last == 20 and len(state.objects) == 20
    repo.commit({"jobs/07/job-7.yaml": job_doc("job-7", ("a", "b"))})
    snap = src.snapshot(src.fetch())
    state = builder.build(snap.source_id, snap.revision, snap.files)
    assert builder.parsed_last == 1 and len(state.objects) == 20


def test_watchdog_debounces_a_burst_and_ignores_temp_and_status_files(tmp_path: Path) -> None:
    root = tmp_path / "src"
    status = root / "status"
    status.mkdir(parents=True)
    calls: list[int] = []
    fired = threading.Event()

    def on_change() -> None:
        calls.append(1)
        fired.set()

    src = DirectorySource(root, ignore=[status])
    stop = src.watch(on_change, quiet=0.2, max_delay=2.0)
    try:
        write(status, "cross-domain/KusciaJob/job-a.yaml", "sync: {}")
        write(root, ".job-a.yaml.swp", "x")
        write(root, "job-a.yaml~", "x")
        assert not fired.wait(0.6), "status/temp files must not trigger a reconcile"
        for i in range(5):  # an editor's save: several writes in a row
            write(root, "job-a.yaml", job_doc("job-a", (f"t{i}",)))
        wait_for(fired.is_set, what="a debounced event")
        fired.clear()
        assert not fired.wait(0.5)
        assert len(calls) == 1
    finally:
        stop()


def _files(docs: dict[str, dict]) -> list[SourceFile]:
    out = []
    for path, doc in sorted(docs.items()):
        data = dump(doc).encode()
        out.append(SourceFile(path, str(pygit2.hash(data)), lambda data=data: data))
    return out


def test_cross_file_errors_follow_changes_incrementally() -> None:
    def job(name: str, task_id: str) -> dict:
        doc = job_doc(name)
        doc["spec"]["tasks"][0]["taskID"] = task_id
        return doc

    docs = {f"j{i:02d}.yaml": job(f"job-{i}", f"t-{i}") for i in range(30)}
    docs["a.yaml"] = job("job-a", "shared")
    docs["b.yaml"] = job("job-b", "shared")
    builder = DesiredStateBuilder()
    state = builder.build("s", "r1", _files(docs))
    assert list(state.held_refs) == [ObjectRef.of("KusciaJob", "job-b")]  # the second claim of `shared`
    docs["b.yaml"] = job("job-b", "own")
    state = builder.build("s", "r2", _files(docs))
    assert not state.held_refs and builder.cross_file.checked_last < 5
    docs["c.yaml"] = job("job-a", "c-task")  # job-a defined twice
    state = builder.build("s", "r3", _files(docs))
    assert list(state.held_refs) == [ObjectRef.of("KusciaJob", "job-a")]
    assert "defined twice" in state.held_refs[ObjectRef.of("KusciaJob", "job-a")]
    del docs["a.yaml"]
    state = builder.build("s", "r4", _files(docs))
    assert not state.held_refs and ObjectRef.of("KusciaJob", "job-a") in state.objects


def test_credentials_in_a_url_never_reach_ids_or_messages(tmp_path: Path) -> None:
    from reconciler.source.git import redact

    url = "https://bot:s3cret-token@git.example.invalid/org/jobs.git"
    assert redact(url) == "https://***@git.example.invalid/org/jobs.git"
    src = GitSource(url, cache_dir=tmp_path / "cache")
    assert "s3cret" not in src.source_id and "s3cret" not in src.describe()
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert "s3cret" not in str(err.value)
