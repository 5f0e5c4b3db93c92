"""Status write-back writes only what changed: a commit whose tree differs from its parent's only in the
changed records (checked with ``git diff-tree``), no existing Git object written again, no commit and no file
write when nothing changed, removal of the records of objects that are gone, and the same from a fresh process
after a restart. Records dumped with libyaml keep the bytes PyYAML's pure emitter writes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pygit2
import yaml

from reconciler import yamlio
from reconciler.model import ObjectRef
from reconciler.status import StatusBranch, StatusFiles, StatusRecord, SyncState

BRANCH = "refs/heads/kgitops/status"


def rec(i: int, phase: str = "Running") -> StatusRecord:
    return StatusRecord(
        ObjectRef("KusciaJob", "cross-domain", f"job-{i:03d}"),
        SyncState.SYNCED,
        "0" * 40,
        f"jobs/job-{i:03d}.yaml",
        live={"phase": phase, "tasks": {f"job-{i:03d}-psi": phase}},
    )


def batch(n: int, **phases: str) -> list[StatusRecord]:
    return [rec(i, phases.get(f"job_{i:03d}", "Running")) for i in range(n)]


def diff_tree(repo: Path, old: str, new: str) -> list[str]:
    """``git diff-tree -r --name-status``: one ``<status>\\t<path>`` line per changed file."""
    out = subprocess.run(
        ["git", "-C", str(repo), "diff-tree", "-r", "--name-status", "--no-renames", old, new],
        check=True, capture_output=True, text=True,
    ).stdout
    return out.splitlines()


def object_files(repo: Path) -> list[Path]:
    return [f for d in (repo / "objects").iterdir() if len(d.name) == 2 for f in d.iterdir()]


def loose_objects(repo: Path) -> set[str]:
    return {f.parent.name + f.name for f in object_files(repo)}


OLD = 946_684_800  # 2000-01-01, in seconds since the epoch


def age_objects(repo: Path) -> list[Path]:
    """Date every loose object back to 2000: libgit2 freshens (touches) an object it is asked to write
    again, so an object written again shows up as a newer mtime (``rewritten``)."""
    objects = object_files(repo)
    for f in objects:
        os.utime(f, (OLD, OLD))
    return objects


def rewritten(objects: list[Path]) -> list[Path]:
    return [f for f in objects if f.stat().st_mtime != OLD]


def tip(repo: pygit2.Repository) -> str:
    return str(repo.references[BRANCH].target)


def test_one_changed_record_changes_only_its_file_and_writes_only_its_objects(tmp_path: Path) -> None:
    path = tmp_path / "repo.git"
    repo = pygit2.init_repository(str(path), bare=True)
    branch = StatusBranch(repo)
    first = branch.commit(batch(60))
    assert first is not None
    before = loose_objects(path)
    aged = age_objects(path)
    second = branch.commit(batch(60, job_007="Succeeded"))
    assert second is not None
    assert diff_tree(path, first, second) == ["M\tcross-domain/KusciaJob/job-007.yaml"]
    assert repo[second].message == "kgitops status: 1 change\n\njob-007: Running → Succeeded\n"
    # one blob, the three trees along its path, one commit; nothing written again for the 59 others
    assert len(loose_objects(path) - before) == 5
    assert rewritten(aged) == []
    assert branch.commit(batch(60, job_007="Succeeded")) is None  # nothing changed: no commit
    assert tip(repo) == second


def test_a_deleted_jobs_record_is_removed_and_other_files_on_the_branch_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "repo.git"
    repo = pygit2.init_repository(str(path), bare=True)
    branch = StatusBranch(repo)
    first = branch.commit(batch(5) + [StatusRecord(ObjectRef("AppImage", "", "img"), SyncState.SYNCED)])
    assert first is not None
    # someone keeps a README and notes on the branch
    parent = repo[first]
    builder = repo.TreeBuilder(parent.tree)
    builder.insert("README.md", repo.create_blob(b"status of our jobs\n"), pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("someone", "someone@example.com")
    theirs = str(repo.create_commit(BRANCH, sig, sig, "readme", builder.write(), [parent.id]))
    third = branch.commit(batch(5)[:3] + batch(5)[4:])  # job-003 and the AppImage are gone
    assert third is not None
    assert diff_tree(path, theirs, third) == [
        "D\t_cluster/AppImage/img.yaml",
        "D\tcross-domain/KusciaJob/job-003.yaml",
    ]
    assert "job-003: Running → removed" in repo[third].message
    assert "AppImage/img: Synced → removed" in repo[third].message
    names = [e.name for e in repo[third].peel(pygit2.Commit).tree]
    assert names == ["README.md", "cross-domain"]  # the emptied _cluster directory is gone, theirs kept


def test_a_fresh_process_after_a_restart_writes_only_the_diff(tmp_path: Path) -> None:
    path = tmp_path / "repo.git"
    repo = pygit2.init_repository(str(path), bare=True)
    status_dir = tmp_path / "status"
    first = StatusBranch(repo).commit(batch(40))
    StatusFiles(status_dir).write(batch(40))
    assert first is not None
    files = sorted(status_dir.rglob("*.yaml"))
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}
    objects = loose_objects(path)
    aged = age_objects(path)
    child = textwrap.dedent(
        """
        import sys
        import pygit2
        from reconciler.model import ObjectRef
        from reconciler.status import StatusBranch, StatusFiles, StatusRecord

        phase = sys.argv[3]
        records = [
            StatusRecord(ObjectRef("KusciaJob", "cross-domain", f"job-{i:03d}"), "Synced", "0" * 40,
                         f"jobs/job-{i:03d}.yaml",
                         live={"phase": phase if i == 11 else "Running",
                               "tasks": {f"job-{i:03d}-psi": phase if i == 11 else "Running"}})
            for i in range(40)
        ]
        print(StatusBranch(pygit2.Repository(sys.argv[1])).commit(records))
        print(StatusFiles(sys.argv[2]).write(records))
        """
    )

    def run(phase: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", child, str(path), str(status_dir), phase],
            check=True, capture_output=True, text=True,
        )
        return done.stdout.splitlines()

    assert run("Running") == ["None", "[]"]  # a restart with nothing changed: no commit, no file written
    assert tip(repo) == first and loose_objects(path) == objects
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files} == stamps
    commit, lines = run("Failed")
    assert lines == "['job-011: Running → Failed']"
    assert diff_tree(path, first, commit) == ["M\tcross-domain/KusciaJob/job-011.yaml"]
    assert len(loose_objects(path) - objects) == 5
    assert rewritten(aged) == []  # a fresh process compares blob ids, it does not write the records again
    changed = [p for p in files if (p.stat().st_ino, p.stat().st_mtime_ns) != stamps[p]]
    assert [p.name for p in changed] == ["job-011.yaml"]


def test_another_writer_moving_the_branch_is_built_on_not_overwritten(tmp_path: Path) -> None:
    """Two writers, each remembering what it committed last: a writer whose branch moved since builds on the
    new tip, and its commit holds exactly its own records."""
    path = tmp_path / "repo.git"
    pygit2.init_repository(str(path), bare=True)
    a, b = StatusBranch(pygit2.Repository(str(path))), StatusBranch(pygit2.Repository(str(path)))
    first = a.commit(batch(10))
    assert first is not None
    theirs = b.commit(batch(10, job_002="Failed")[:9])  # job-009 gone, job-002 failed
    assert theirs is not None
    ours = a.commit(batch(10, job_005="Succeeded"))
    assert ours is not None
    repo = pygit2.Repository(str(path))
    assert [str(p) for p in repo[ours].parent_ids] == [theirs]
    assert diff_tree(path, theirs, ours) == [
        "M\tcross-domain/KusciaJob/job-002.yaml",
        "M\tcross-domain/KusciaJob/job-005.yaml",
        "A\tcross-domain/KusciaJob/job-009.yaml",
    ]
    assert diff_tree(path, first, ours) == ["M\tcross-domain/KusciaJob/job-005.yaml"]


def test_status_files_are_rewritten_only_when_changed_and_restored_when_edited_by_someone_else(
    tmp_path: Path,
) -> None:
    files = StatusFiles(tmp_path)
    files.write(batch(20))
    paths = {i: tmp_path / f"cross-domain/KusciaJob/job-{i:03d}.yaml" for i in range(20)}
    stamps = {i: (p.stat().st_ino, p.stat().st_mtime_ns) for i, p in paths.items()}
    assert files.write(batch(20, job_004="Succeeded")) == ["job-004: Running → Succeeded"]
    now = {i: (p.stat().st_ino, p.stat().st_mtime_ns) for i, p in paths.items()}
    assert [i for i in paths if now[i] != stamps[i]] == [4]
    # someone edits one file and deletes another: the next write restores both, and only them
    paths[8].write_text("apiVersion: kgitops.io/v1alpha1\nkind: KusciaJobStatus\nsync: {state: Failed}\n")
    paths[9].unlink()
    stamps = {i: (p.stat().st_ino, p.stat().st_mtime_ns) for i, p in paths.items() if i != 9}
    lines = files.write(batch(20, job_004="Succeeded"))
    assert lines == ["job-008: Failed → Running", "job-009: new, Running"]
    assert paths[8].read_bytes() == paths[7].read_bytes().replace(b"007", b"008")
    now = {i: (p.stat().st_ino, p.stat().st_mtime_ns) for i, p in paths.items() if i != 9}
    assert [i for i in stamps if now[i] != stamps[i]] == [8]
    assert files.write(batch(20, job_004="Succeeded")) == []


def test_records_dumped_by_libyaml_are_byte_for_byte_what_pyyaml_writes() -> None:
    """Many records, with unicode, line breaks, control characters, long strings and long keys: ``to_yaml``
    (and ``-o yaml``'s ``yamlio.safe_dump``) give PyYAML's pure emitter's bytes, and ``from_yaml`` reads them
    back as the pure loader does."""
    rng = random.Random(17)
    alphabets = [
        "abcdefghij-_.:/ 0123456789",
        "".join(chr(c) for c in range(32, 127)),
        "abc éü中文日本語😀 ",
        "ab \n\t\r\"'\\#:-{}[]!|>&*\x00\x01\x7f\u0085\u2028\ufeff",
    ]

    def text(alpha: str) -> str:
        return "".join(rng.choice(alpha) for _ in range(rng.choice([0, 3, 40, 130, 300])))

    def value(alpha: str, depth: int = 0) -> object:
        roll = rng.random()
        if depth > 2 or roll < 0.55:
            return rng.choice([text(alpha), text(alpha), rng.randint(-(10**12), 10**12), 0.25, True, None,
                               "yes", "null", "1e3", "2026-11-29T12:00:00Z", "", "a: b", "- x"])
        if roll < 0.8:
            return {text(alpha) or "k": value(alpha, depth + 1) for _ in range(rng.randint(0, 3))}
        return [value(alpha, depth + 1) for _ in range(rng.randint(0, 3))]

    for n in range(2500):
        alpha = alphabets[n % len(alphabets)]
        record = StatusRecord(
            ObjectRef("KusciaJob", "cross-domain", f"job-{n}"),
            rng.choice([SyncState.SYNCED, SyncState.FAILED]),
            text(alpha), text(alpha), text(alpha), text(alpha),
            live={"phase": "Failed", "message": value(alpha), "extra": value(alpha)},
        )
        pure = yaml.safe_dump(record.to_dict(), sort_keys=True, default_flow_style=False, allow_unicode=True)
        data = record.to_yaml()
        assert data == pure.encode("utf-8"), (n, pure)
        assert StatusRecord.from_yaml(data) == StatusRecord.from_dict(yaml.safe_load(pure))
        shared = [text(alpha)]
        doc = {  # ``-o yaml``: keys in the order given; a list met twice, keys that do not sort, a float
            "items": [record.to_dict(), value(alpha), shared, shared],
            "mixed": {1: text(alpha), "a": None, 2.5: [{}, []]},
            "unsortable": {3: text(alpha), "b": [{}, [], {"k": []}], 1: True},
        } if n % 5 == 0 else {"items": [record.to_dict(), value(alpha)]}
        for sort_keys in (False, True):
            pure = yaml.safe_dump(doc, sort_keys=sort_keys, allow_unicode=True)
            assert yamlio.safe_dump(doc, sort_keys=sort_keys) == pure, (n, pure)
