"""Opening the engine's store never queues behind a writer: a state directory already set up is opened with
no write transaction (``PRAGMA user_version`` holds the schema's stamp), so ``kgitops job list`` reads at
once, from the WAL snapshot, while another process (the driver, a sync) holds the file's write lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from reconciler.backends.local import LocalBackend
from reconciler.backends.pages import PageRequest
from reconciler.engine.store import DB_NAME, Store

from .engine_fixtures import kjob


def test_a_reader_opens_and_reads_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    writer = LocalBackend(tmp_path, autostart=False)
    created = writer.create(kjob("job-a", [{"alias": "t"}]))
    writer.close()
    writer_ns = created.namespace
    held = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, timeout=0.1)
    held.execute("BEGIN IMMEDIATE")  # the write lock, as a long write of another process holds it
    held.execute("UPDATE objects SET seq = seq")
    try:
        names: list[str] = []
        done = threading.Event()

        def read() -> None:
            reader = LocalBackend(tmp_path, readonly=True)
            names.extend(r.name for r in reader.list_jobs(PageRequest(namespace=writer_ns, limit=50)).items)
            reader.close()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        # the store's busy timeout is 30 s: a reader that queued for the lock would still be waiting
        assert done.wait(10), "opening the store waited for the writer's lock"
        assert names == ["job-a"]
    finally:
        held.execute("ROLLBACK")
        held.close()


def test_the_schema_runs_once_and_again_for_a_file_of_another_schema(tmp_path: Path) -> None:
    Store(tmp_path / DB_NAME).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    stamp = db.execute("PRAGMA user_version").fetchone()[0]
    assert stamp != 0
    db.execute("DROP INDEX objects_owner")  # a file set up by another version: its stamp differs
    db.execute("PRAGMA user_version=0")
    db.commit()
    Store(tmp_path / DB_NAME).close()
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "objects_owner" in indexes
    assert db.execute("PRAGMA user_version").fetchone()[0] == stamp
    db.close()
