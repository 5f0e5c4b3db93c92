"""The parse cache on disk (``<state_dir>/cache``) and the live cache: a warm run plans exactly what a cold
run plans, a damaged or foreign cache is a cold run, and a change is always seen."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import reconciler
from reconciler.apply import Reconciler
from reconciler.apply.live_cache import LiveCache
from reconciler.engine import changelog
from reconciler.engine.store import Store
from reconciler.model import ObjectRef, Resource
from reconciler.plan.desired import DesiredStateBuilder, _Cached
from reconciler.plan.parse_cache import ParseCacheFile, cache_path, fingerprint
from reconciler.plan.validation_seam import check_file
from reconciler.source import GitSource

from .gitops_support import Repo, appimage_doc, dump, job_doc, local_backend, write_config


def kgitops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def tasked(name: str, task_id: str) -> dict:
    doc = job_doc(name)
    doc["spec"]["tasks"][0]["taskID"] = task_id
    return doc


BROKEN_JOB = job_doc("job-bad")
BROKEN_JOB["spec"]["tasks"][0]["parties"] = [{"domainID": "Not A Domain!"}]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Repo, Path, Path]:
    """A Git repository (bare remote and a clone-free local path read with --git) holding every kind of
    finding the plan turns into a hold: a job that fails validation, a file that does not parse, the same job
    defined in two files, and a taskID claimed by two jobs (XF002)."""
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "apps/noop.yaml": appimage_doc(),
            "jobs/job-a.yaml": job_doc("job-a", ("psi", "train")),
            "jobs/job-b.yaml": job_doc("job-b"),
            "jobs/bad.yaml": BROKEN_JOB,
            "jobs/syntax.yaml": "kind: KusciaJob\nmetadata: {name: [oops\n",
            "jobs/twice-1.yaml": job_doc("job-twice"),
            "jobs/twice-2.yaml": job_doc("job-twice", ("other",)),
            "jobs/shared-1.yaml": tasked("job-s1", "shared-task"),
            "jobs/shared-2.yaml": tasked("job-s2", "shared-task"),
        }
    )
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    return repo, cfg, tmp_path / "state"


def plan_json(repo: Repo, cfg: Path) -> tuple[int, dict]:
    out = kgitops("diff", repo.path, "--git", "--config", cfg, "-o", "json")
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, json.loads(out.stdout)


def cold_plan(repo: Repo, cfg: Path, state: Path) -> tuple[int, dict]:
    """The plan of a process that finds no cache (and leaves none behind)."""
    cache = cache_path(state).parent
    for f in cache.glob("*"):
        f.unlink()
    result = plan_json(repo, cfg)
    for f in cache.glob("*"):
        f.unlink()
    return result


def held(doc: dict) -> dict[str, str]:
    return {f'{e["kind"]}/{e["name"]}': e["reason"] for e in doc["entries"] if e["action"] == "held"}


def test_warm_cli_runs_plan_exactly_what_cold_runs_plan(project: tuple[Repo, Path, Path]) -> None:
    repo, cfg, state = project
    assert kgitops("sync", repo.path, "--git", "--config", cfg).returncode == 1  # held objects: not clean
    cold = cold_plan(repo, cfg, state)
    first = plan_json(repo, cfg)  # writes the cache
    assert cache_path(state).is_file()
    warm = plan_json(repo, cfg)  # reads it
    assert first == cold and warm == cold
    reasons = held(warm[1])
    assert any("job-bad" in r for r in reasons), reasons
    assert any("job-twice" in r for r in reasons) and any("XF002" in why for why in reasons.values())
    assert "jobs/syntax.yaml" in {f["path"] for f in warm[1]["heldFiles"]}

    # a one-file edit is picked up, and the cross-file rules see every file: fixing one side of the shared
    # taskID releases the other
    repo.commit(
        {"jobs/shared-2.yaml": tasked("job-s2", "own-task"), "jobs/job-b.yaml": job_doc("job-b", ("x",))}
    )
    warm = plan_json(repo, cfg)
    assert warm == cold_plan(repo, cfg, state)
    assert not any("XF002" in why for why in held(warm[1]).values())
    changed = {e["name"] for e in warm[1]["entries"] if e["action"] == "changed"}
    assert "job-b" in changed, warm[1]["entries"]

    # a file that no longer yields its job still holds it with a warm cache (a truncation is no deletion)
    plan_json(repo, cfg)
    repo.commit({"jobs/job-a.yaml": ""})
    warm = plan_json(repo, cfg)
    assert warm == cold_plan(repo, cfg, state)
    assert any("job-a" in ref and "yields no objects" in why for ref, why in held(warm[1]).items())


def test_a_damaged_cache_is_a_cold_run_without_an_error(project: tuple[Repo, Path, Path]) -> None:
    repo, cfg, state = project
    kgitops("sync", repo.path, "--git", "--config", cfg)
    cold = cold_plan(repo, cfg, state)
    plan_json(repo, cfg)
    path = cache_path(state)
    with sqlite3.connect(path) as db:  # every row damaged, as a torn write or a bad disk would leave it
        db.execute("UPDATE entries SET data = X'80059500'")
        db.execute("UPDATE meta SET value = X'0102' WHERE key = 'cross_file'")
    assert plan_json(repo, cfg) == cold
    path.write_bytes(b"this is not a SQLite database" * 100)  # the whole file garbage
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert plan_json(repo, cfg) == cold
    assert plan_json(repo, cfg) == cold  # the damaged file was replaced by a working one
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] > 0


def test_two_processes_at_once_share_the_cache_safely(project: tuple[Repo, Path, Path]) -> None:
    repo, cfg, state = project
    kgitops("sync", repo.path, "--git", "--config", cfg)
    cold = cold_plan(repo, cfg, state)
    args = [sys.executable, "-m", "reconciler", "diff", str(repo.path), "--git", "--config", str(cfg)]
    pipe = subprocess.PIPE
    procs = [subprocess.Popen([*args, "-o", "json"], stdout=pipe, stderr=pipe, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err, err
        assert (p.returncode, json.loads(out)) == cold
    assert plan_json(repo, cfg) == cold


def test_a_cache_of_another_version_or_schema_is_never_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/job-a.yaml": job_doc("job-a")})
    snap = GitSource(str(repo.path)).snapshot()
    (f,) = snap.files
    lie = check_file(f.path, dump(job_doc("job-from-the-cache")).encode(), None)
    entry = _Cached.of(lie)
    path = tmp_path / "cache.sqlite"

    def build(fp: str) -> set[str]:
        builder = DesiredStateBuilder(None, ParseCacheFile(path, fp))
        return {ref.name for ref in builder.build("s", snap.revision, snap.files).objects}

    ParseCacheFile(path, fingerprint(None)).save({(f.path, f.digest): entry}, [(f.path, f.digest)], None)
    assert build(fingerprint(None)) == {"job-from-the-cache"}  # the same fingerprint: the entry is used
    monkeypatch.setattr(reconciler, "__version__", "999.0.0")
    assert build(fingerprint(None)) == {"job-a"}  # another version: parsed again
    monkeypatch.undo()
    ParseCacheFile(path, fingerprint(None)).save({(f.path, f.digest): entry}, [(f.path, f.digest)], None)
    monkeypatch.setattr("reconciler.plan.parse_cache.CACHE_SCHEMA", 999)
    assert build(fingerprint(None)) == {"job-a"}  # another cache schema: parsed again
    monkeypatch.undo()
    assert build(fingerprint(None)) == {"job-a"}  # and the foreign cache was emptied, not kept
    assert fingerprint(None) != fingerprint({"lenient": True})  # validator options are part of it


def _resource(name: str) -> Resource:
    return Resource(kind="KusciaJob", name=name, spec=job_doc(name)["spec"])


def test_the_live_cache_sees_every_create_update_and_delete(tmp_path: Path) -> None:
    backend = local_backend(tmp_path / "state")
    other = Store.open(tmp_path / "state")  # another process's writes, through its own connection
    cache = LiveCache(backend)

    def names() -> dict[str, str]:
        return {o.name: str(o.spec.get("maxParallelism", "")) for o in cache.list("KusciaJob")}

    def truth() -> dict[str, str]:
        return {o.name: str(o.spec.get("maxParallelism", "")) for o in backend.list("KusciaJob")}

    assert names() == {} == truth()
    for n in ("a", "b", "c"):
        other.create(_resource(f"job-{n}"))
    assert names() == truth() and len(truth()) == 3
    read = cache.read_count
    assert names() == truth() and cache.read_count == read  # nothing changed: nothing read
    b = other.get(ObjectRef("KusciaJob", "cross-domain", "job-b"))
    assert b is not None
    b.spec["maxParallelism"] = 3
    other.put(b)
    other.delete(ObjectRef("KusciaJob", "cross-domain", "job-a"))
    assert names() == truth() == {"job-b": "3", "job-c": ""}
    assert cache.read_count == read + 2  # one update, one delete: only those were read
    other.create(_resource("job-a"))  # deleted and created again
    other.delete(ObjectRef("KusciaJob", "cross-domain", "job-c"))
    assert names() == truth() and set(truth()) == {"job-a", "job-b"}
    other.close()
    backend.close()


def test_deletions_older_than_the_kept_tombstones_mean_a_full_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changelog, "KEPT_DELETIONS", 3)
    store = Store.open(tmp_path)
    start = store.feed.changes("KusciaJob", None).version
    for i in range(300):
        store.create(_resource(f"job-{i}"))
        store.delete(ObjectRef("KusciaJob", "cross-domain", f"job-{i}"))
    store.create(_resource("job-kept"))
    found = store.feed.changes("KusciaJob", start)
    assert found.complete and [o.name for o in found.changed] == ["job-kept"]
    recent = store.feed.changes("KusciaJob", found.version - 4)
    assert not recent.complete
    store.close()


def test_a_state_dir_from_before_the_change_feed_is_migrated(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.create(_resource("job-old"))
    with store.transaction():
        store._db.execute("DROP TABLE deletions")
        store._db.execute("DROP INDEX objects_kind_rv")
        store._db.execute("PRAGMA user_version=0")  # versions before the change feed never set it
    store.close()
    store = Store.open(tmp_path)  # opened by this version: the table and the index are added
    v = store.feed.changes("KusciaJob", None)
    assert [o.name for o in v.changed] == ["job-old"]
    store.delete(ObjectRef("KusciaJob", "cross-domain", "job-old"))
    after = store.feed.changes("KusciaJob", v.version)
    assert not after.complete and [r.name for r in after.removed] == ["job-old"]
    store.close()


def test_a_warm_reconciler_sees_a_job_deleted_behind_its_back(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    backend = local_backend(tmp_path / "state")
    rec = Reconciler(GitSource(str(repo.path)), backend)
    rec.sync()
    ref = ObjectRef("KusciaJob", "cross-domain", "job-a")
    assert rec.plan().plan.entry(ref).action == "unchanged"
    other = Store.open(tmp_path / "state")
    other.delete(ref)
    other.close()
    entry = rec.plan().plan.entry(ref)
    assert entry is not None and entry.action == "create" and entry.drift
    backend.close()


def test_a_directory_source_keeps_its_stamps_and_sees_an_edit(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for rel, doc in {"apps/noop.yaml": appimage_doc(), "jobs/a.yaml": job_doc("job-a")}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(dump(doc))
    settled = time.time() - 60  # written a minute ago: settled, so their stamps are kept on disk
    for f in src.rglob("*.yaml"):
        os.utime(f, (settled, settled))
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    assert kgitops("sync", src, "--config", cfg).returncode == 0

    def plan() -> tuple[int, dict]:
        out = kgitops("diff", src, "--config", cfg, "-o", "json")
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, json.loads(out.stdout)

    assert plan()[0] == 0
    with sqlite3.connect(cache_path(tmp_path / "state")) as db:
        kept = db.execute("SELECT key FROM memo WHERE name LIKE 'source.stamps:%'").fetchall()
    assert {k for (k,) in kept} == {"apps/noop.yaml", "jobs/a.yaml"}
    (src / "jobs/a.yaml").write_text(dump(job_doc("job-a", ("psi", "train"))))  # edited just now
    code, doc = plan()
    assert code == 1 and [e["name"] for e in doc["entries"] if e["action"] == "changed"] == ["job-a"]
    (src / "jobs/b.yaml").write_text(dump(job_doc("job-b")))
    code, doc = plan()
    assert [e["name"] for e in doc["entries"] if e["action"] == "create"] == ["job-b"]
