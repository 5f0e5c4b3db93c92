"""Concurrency loses nothing (issue 12, section D): two real ``kgitops sync`` processes, or ``kgitops watch``
plus a manual sync, on one state directory. One writer at a time: zero lost inventory entries, zero false
"already exists" failures, a status branch that only moves forward, and a second writer that says it waits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygit2

from reconciler.apply.lock import WriterLock
from reconciler.model import ObjectRef
from reconciler.source import DirectorySource, GitSource

from .gitops_support import Repo, appimage_doc, dump, job_doc, local_backend, wait_for, write, write_config

N = 150
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def start(*args: str | Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        argv = [sys.executable, "-m", "reconciler", *map(str, args)]
        return subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=ENV)


def jobs_in(src: Path, n: int = N) -> set[ObjectRef]:
    for i in range(n):
        write(src, f"jobs/job-{i:03}.yaml", job_doc(f"job-{i:03}"))
    write(src, "apps/noop.yaml", appimage_doc())
    jobs = {ObjectRef.of("KusciaJob", f"job-{i:03}") for i in range(n)}
    return jobs | {ObjectRef.of("AppImage", "noop-image")}


def test_two_syncs_on_one_state_dir_lose_nothing(tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    expected = jobs_in(src)
    cfg = write_config(tmp_path / "kgitops.yaml", state)
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    status = tmp_path / "status"
    procs = [start("sync", src, "--config", cfg, "--status-dir", status, log=log) for log in logs]
    codes = [p.wait(timeout=180) for p in procs]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert not any("already exists" in out or "failed" in out for out in outputs), outputs
    created = sum(out.count("\ncreated ") + out.startswith("created ") for out in outputs)
    assert created == len(expected), outputs  # each object created exactly once, by one of the two
    backend = local_backend(state)
    try:
        inventory = backend.get_inventory(DirectorySource(src).source_id)
        assert inventory == expected, (len(inventory), sorted(expected - inventory)[:5])
        assert all(j.status.get("phase") != "Failed" for j in backend.list("KusciaJob"))
    finally:
        backend.close()
    assert len(list((tmp_path / "status").rglob("*.yaml"))) == len(expected)


def test_a_second_writer_waits_and_says_so(tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    expected = jobs_in(src, 5)
    cfg = write_config(tmp_path / "kgitops.yaml", state)
    log = tmp_path / "sync.log"
    holder = WriterLock(state, "kgitops watch (the test)")
    with holder.hold():
        proc = start("sync", src, "--config", cfg, log=log)
        wait_for(lambda: "waiting for" in log.read_text(), what="the waiting message")
        assert proc.poll() is None  # it waits, it does not fail
        text = log.read_text()
        assert f"pid {os.getpid()}: kgitops watch (the test)" in text and str(state) in text
    assert proc.wait(timeout=60) == 0, log.read_text()
    backend = local_backend(state)
    try:
        assert backend.get_inventory(DirectorySource(src).source_id) == expected
    finally:
        backend.close()


def test_two_syncs_move_the_status_branch_only_forward(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    files: dict[str, dict | str | None] = {f"jobs/job-{i:03}.yaml": job_doc(f"job-{i:03}") for i in range(60)}
    files["apps/noop.yaml"] = appimage_doc()
    repo.commit(files)
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "kgitops.yaml", state, "source:\n  path: repo\n  git: true\n")
    rounds = []
    for r in range(3):
        repo.commit({f"jobs/extra-{r}-{i}.yaml": dump(job_doc(f"extra-{r}-{i}")) for i in range(20)})
        logs = [tmp_path / f"r{r}-{k}.log" for k in range(2)]
        procs = [start("sync", "--config", cfg, log=log) for log in logs]
        rounds.append([p.wait(timeout=180) for p in procs])
        assert rounds[-1] == [0, 0], [log.read_text() for log in logs]
    git = pygit2.Repository(str(tmp_path / "repo"))
    ref = git.references["refs/heads/kgitops/status"]
    entries = list(ref.log())
    assert entries, "no status commits"
    for e in entries:
        if e.oid_old != pygit2.Oid(hex="0" * 40):
            assert git.descendant_of(e.oid_new, e.oid_old), f"{e.oid_old} -> {e.oid_new} moved backwards"
    # the tip holds a status file for every object of the last revision
    tip = ref.peel(pygit2.Commit)
    count = 0
    stack = [tip.tree]
    while stack:
        for entry in stack.pop():
            obj = git[entry.id]
            if isinstance(obj, pygit2.Tree):
                stack.append(obj)
            else:
                count += 1
    assert count == 60 + 60 + 1
    backend = local_backend(state)
    try:
        inventory = backend.get_inventory(GitSource(str(tmp_path / "repo")).source_id)
        assert len(inventory) == 121
    finally:
        backend.close()


def test_watch_and_a_manual_sync_lose_nothing(tmp_path: Path) -> None:
    """``kgitops watch`` and a manual ``kgitops sync`` started together on the same new source: the
    inventory, sampled all along, only ever grows, every object is created once, nothing fails."""
    src, state = tmp_path / "src", tmp_path / "state"
    expected = jobs_in(src, 400)
    cfg = write_config(tmp_path / "kgitops.yaml", state)
    watch_log, sync_log = tmp_path / "watch.log", tmp_path / "sync.log"
    watch = start("watch", src, "--config", cfg, "--status-interval", "0.1", log=watch_log)
    sync = start("sync", src, "--config", cfg, "--status-dir", tmp_path / "status", log=sync_log)
    backend = local_backend(state)
    source_id = DirectorySource(src).source_id
    samples: list[frozenset[ObjectRef]] = []
    try:

        def settled() -> bool:
            samples.append(frozenset(backend.get_inventory(source_id)))
            return sync.poll() is not None and samples[-1] == expected

        wait_for(settled, timeout=180, what="the sync to end and the inventory to be complete")
        assert sync.wait() == 0, sync_log.read_text()[-3000:]
    finally:
        backend.close()
        watch.terminate()
        watch.wait(timeout=60)
    lost = [sorted(a - b)[:3] for a, b in zip(samples, samples[1:], strict=False) if not a <= b]
    assert not lost, lost
    out = sync_log.read_text() + watch_log.read_text()
    assert "already exists" not in out and "Traceback" not in out, out[-3000:]
    assert out.count("created KusciaJob") + out.count("created     KusciaJob") == 400
