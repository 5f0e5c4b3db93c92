"""The store's one change log (``engine/changelog.py``): the driver's deletions and the plan's live feed
from the same ``deletions`` table, one horizon policy, and state directories of the two-log versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.engine import changelog
from reconciler.engine.store import DB_NAME, Store
from reconciler.model import ObjectRef, Resource

from .engine_fixtures import appimage, kjob

# The schema of the versions with two change logs: the driver's ``tombstones`` (a trigger filled it for
# deleted tasks) and the live feed's ``deletions`` without uid and owner, plus their two indexes.
OLD_SCHEMA = """
CREATE TABLE objects (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, rv INTEGER NOT NULL, created TEXT NOT NULL, seq INTEGER NOT NULL,
    api_version TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL,
    spec TEXT NOT NULL, status TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX objects_owner ON objects(owner);
CREATE TABLE pods (
    task TEXT NOT NULL, task_uid TEXT NOT NULL, pod TEXT NOT NULL, domain TEXT NOT NULL,
    replica INTEGER NOT NULL, dir TEXT NOT NULL, state TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0, start_ticks INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER, message TEXT NOT NULL DEFAULT '', term_at REAL NOT NULL DEFAULT 0,
    started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (task, pod)
);
CREATE TABLE inventory (
    source TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (source, kind, namespace, name)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE appimage_pins (
    owner TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, spec TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE INDEX objects_kind_rv ON objects(kind, rv);
CREATE TABLE deletions (
    rv INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL
);
CREATE INDEX objects_rv ON objects(rv);
CREATE TABLE tombstones (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, owner TEXT NOT NULL
);
CREATE TRIGGER objects_tombstone AFTER DELETE ON objects WHEN old.kind = 'KusciaTask'
BEGIN
    INSERT INTO tombstones(kind, namespace, name, uid, owner)
    VALUES (old.kind, old.namespace, old.name, old.uid, old.owner);
END;
"""

OBJECT = (
    "INSERT INTO objects(kind, namespace, name, uid, rv, created, seq, api_version, labels, annotations,"
    " spec, status, owner) VALUES (?, 'cross-domain', ?, ?, ?, '2026-01-01T00:00:00Z', ?,"
    " 'kuscia.secretflow/v1alpha1', '{}', '{}', '{}', '{}', ?)"
)


def old_state_dir(state: Path) -> None:
    """A state directory as the two-log version left it: job-a with task-a (live), job-b and its task-b
    deleted (a tombstone the driver never read, a deletion in the live feed's log)."""
    state.mkdir(parents=True)
    db = sqlite3.connect(state / DB_NAME, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    db.execute(OBJECT, ("KusciaJob", "job-a", "uid-job-a", 1, 1, ""))
    db.execute(OBJECT, ("KusciaTask", "task-a", "uid-task-a", 2, 2, "uid-job-a"))
    db.execute(OBJECT, ("KusciaJob", "job-b", "uid-job-b", 3, 3, ""))
    db.execute(OBJECT, ("KusciaTask", "task-b", "uid-task-b", 4, 4, "uid-job-b"))
    db.execute("DELETE FROM objects WHERE name IN ('job-b', 'task-b')")  # the trigger writes the tombstone
    deletion = "INSERT INTO deletions(rv, kind, namespace, name) VALUES (?, ?, 'cross-domain', ?)"
    db.executemany(deletion, [(5, "KusciaTask", "task-b"), (6, "KusciaJob", "job-b")])
    meta = [("rv", "6"), ("seq", "4"), ("processed_rv", "6")]
    db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta)
    assert db.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 1
    db.close()


def test_a_state_dir_with_the_two_old_logs_is_migrated_to_one(tmp_path: Path) -> None:
    state = tmp_path / "state"
    old_state_dir(state)
    b = LocalBackend(state, trusted_appimages=["app"], workspace=tmp_path, autostart=False)
    try:
        # the live feed's history survives: a reader at revision 2 learns of job-b's deletion
        jobs = b.changes("KusciaJob", "2")
        assert not jobs.complete and [r.name for r in jobs.removed] == ["job-b"]
        assert [o.name for o in b.list("KusciaJob")] == ["job-a"]
        # deleting a task works (no trigger into a table that is gone) and is logged once, with its uid
        before = b.changes("KusciaTask", "").version
        b.delete(ObjectRef.of("KusciaJob", "job-a"))
        tasks = b.changes("KusciaTask", before)
        assert not tasks.complete and [r.name for r in tasks.removed] == ["task-a"]
        _, gone = b.store.feed.deletions_since(int(before))
        assert [(c.ref.name, c.uid, c.owner) for c in gone] == [
            ("task-a", "uid-task-a", "uid-job-a"),
            ("job-a", "uid-job-a", ""),
        ]
        tables = {r[0] for r in b.store._db.execute("SELECT name FROM sqlite_master")}
        assert not tables & {"tombstones", "objects_tombstone", "objects_rv"}
        # and the engine runs jobs in it
        b.create(appimage("app", "true"))
        b.create(kjob("job-c", [{"alias": "a"}]))
        done = b.wait_for_job("job-c", timeout=60)
        assert done.status["phase"] == "Succeeded"
    finally:
        b.close()


def _job(name: str) -> Resource:
    return Resource(kind="KusciaJob", name=name)


def test_the_horizon_keeps_the_deletions_a_driver_has_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changelog, "KEPT_DELETIONS", 3)
    monkeypatch.setattr(changelog, "TRIM_EVERY", 1)
    store = Store.open(tmp_path)
    start = store.feed.begin_reading("driver")  # a driver read every deletion so far (none)
    writer = Store.open(tmp_path)  # another process deletes while the driver is busy
    for i in range(20):
        writer.create(_job(f"job-{i}"))
        writer.delete(ObjectRef("KusciaJob", "cross-domain", f"job-{i}"))
    last, gone = store.feed.deletions_since(start)
    assert [c.ref.name for c in gone] == [f"job-{i}" for i in range(20)]  # none trimmed before it read them
    assert not store.feed.changes("KusciaJob", 0).complete  # the horizon did not move past the cursor
    store.feed.mark_deletions_read("driver", last)
    writer.create(_job("job-20"))
    writer.delete(ObjectRef("KusciaJob", "cross-domain", "job-20"))  # the next deletion trims what was read
    _, left = store.feed.deletions_since(0)
    assert [c.ref.name for c in left] == ["job-18", "job-19", "job-20"]
    assert store.feed.changes("KusciaJob", 0).complete  # a reader from before the horizon relists
    recent = store.feed.changes("KusciaJob", last)
    assert not recent.complete and [r.name for r in recent.removed] == ["job-20"]
    store.feed.end_reading("driver")
    writer.close()
    store.close()


def test_a_new_driver_drops_the_cursor_of_a_killed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changelog, "KEPT_DELETIONS", 2)
    monkeypatch.setattr(changelog, "TRIM_EVERY", 1)
    store = Store.open(tmp_path)
    store.feed.begin_reading("killed")  # never ends its reading
    for i in range(6):
        store.create(_job(f"job-{i}"))
        store.delete(ObjectRef("KusciaJob", "cross-domain", f"job-{i}"))
    assert len(store.feed.deletions_since(0)[1]) == 6  # held back for the killed driver
    newest = store.feed.begin_reading("next")
    assert newest == store.feed.deletions_since(0)[0]
    store.create(_job("job-6"))
    store.delete(ObjectRef("KusciaJob", "cross-domain", "job-6"))
    assert [c.ref.name for c in store.feed.deletions_since(0)[1]] == ["job-5", "job-6"]
    store.close()
