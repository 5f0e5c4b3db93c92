"""Fault injection over the status writers: a writer killed with SIGKILL at any point leaves status files and
the status branch as a reader can use them, and the next writer carries on.

A child process writes generation after generation of 120 records (status files and status-branch commits),
printing each generation it finishes; the test kills it right after reading a line, so the kill lands at a
different point of the next generation each time (no sleeps: where it lands is whatever the child was doing).
After every kill: every status file is a whole record, no temporary file is left where readers look, the
branch's tip is a commit whose every record parses, and the branch only moved forward.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pygit2
import yaml

from reconciler.status.files import StatusFiles

CHILD = textwrap.dedent(
    """
    import sys
    import pygit2
    from reconciler.model import ObjectRef
    from reconciler.status.commits import StatusBranch
    from reconciler.status.files import StatusFiles
    from reconciler.status.record import StatusRecord

    status_dir, repo_path, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files, branch = StatusFiles(status_dir), StatusBranch(pygit2.Repository(repo_path))
    for gen in range(first, first + 1000):
        records = [
            StatusRecord(
                ObjectRef("KusciaJob", "cross-domain", f"job-{i:03d}"),
                "Synced",
                revision=f"rev-{gen}",
                message="x" * (gen % 7) * 40,
                live={"phase": "Running" if gen % 2 else "Succeeded", "generation": gen},
            )
            for i in range(120)
        ]
        files.write(records)
        branch.commit(records)
        print(gen, flush=True)
    """
)


def _start(status_dir: Path, repo: Path, first: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(status_dir), str(repo), str(first)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _check_files(status_dir: Path) -> int:
    """Every ``*.yaml`` a reader would read is a whole record; returns the generation they show."""
    generations = set()
    for path in status_dir.rglob("*.yaml"):
        assert not path.name.startswith("."), f"a temporary file where readers look: {path}"
        doc = yaml.safe_load(path.read_text())
        assert doc["kind"] == "KusciaJobStatus" and doc["live"]["phase"] in ("Running", "Succeeded"), path
        generations.add(doc["live"]["generation"])
    assert len(list(status_dir.rglob("*.yaml"))) == 120
    return max(generations)


def _check_branch(repo: pygit2.Repository, previous: pygit2.Oid | None) -> pygit2.Oid:
    tip = repo.references["refs/heads/kgitops/status"].peel(pygit2.Commit)
    if previous is not None:  # forward only: the old tip is the new tip or one of its ancestors
        assert tip.id == previous or repo.descendant_of(tip.id, previous)
    count = 0

    def walk(tree: pygit2.Tree) -> None:
        nonlocal count
        for entry in tree:
            obj = repo[entry.id]
            if isinstance(obj, pygit2.Tree):
                walk(obj)
            else:
                doc = yaml.safe_load(obj.peel(pygit2.Blob).data)
                assert doc["kind"] == "KusciaJobStatus"
                count += 1

    walk(tip.tree)
    assert count == 120
    return tip.id


def test_sigkill_at_any_point_of_a_status_write_leaves_usable_status(tmp_path: Path) -> None:
    status_dir = tmp_path / "status"
    repo_path = tmp_path / "repo"
    repo = pygit2.init_repository(str(repo_path), bare=True)
    rng = random.Random(7)
    tip: pygit2.Oid | None = None
    first = 0
    kills = 0
    for _ in range(12):
        child = _start(status_dir, repo_path, first)
        assert child.stdout is not None
        for _ in range(rng.randint(1, 3)):  # let it finish a few generations, then kill it mid-next
            line = child.stdout.readline()
            assert line, "the writer died on its own"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        kills += 1
        first = int(line) + 1
        _check_files(status_dir)
        tip = _check_branch(repo, tip)
    assert kills == 12
    # the next writer carries on from whatever the kills left, and leaves no leftovers behind
    child = _start(status_dir, repo_path, first)
    assert child.stdout is not None
    assert int(child.stdout.readline()) == first
    child.kill()
    child.wait()
    assert StatusFiles(status_dir).read_all()


def test_a_temporary_file_left_by_a_killed_writer_is_never_read_and_is_cleaned_up(tmp_path: Path) -> None:
    from reconciler.model import ObjectRef
    from reconciler.status.record import StatusRecord

    files = StatusFiles(tmp_path)
    ref = ObjectRef("KusciaJob", "cross-domain", "job-a")
    record = StatusRecord(ref, "Synced", live={"phase": "Running"})
    files.write([record])
    leftover = tmp_path / "cross-domain" / "KusciaJob" / ".job-b.yaml.abc123.tmp"
    leftover.write_text("apiVersion: kgitops.io/v1alpha1\nkind: KusciaJobSt")  # cut off by the kill
    assert list(files.read_all()) == ["cross-domain/KusciaJob/job-a.yaml"]
    files.write([record])
    assert not leftover.exists()
