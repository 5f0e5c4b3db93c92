"""One SQLite connection as the engine's store uses it: WAL, nested transactions, a counter, commit listeners.

WAL mode so that readers (a `job list` in another terminal) never wait for the driver's writes; every
state transition is one ``with store.transaction():`` block, so a kill -9 leaves either the old or the new
state, never half of one. ``synchronous=NORMAL`` survives process crashes (not power loss), which is the
failure the engine is designed for (SQLite's own documentation: https://www.sqlite.org/wal.html,
https://www.sqlite.org/pragma.html#pragma_synchronous).
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.engine.private_files import open_private, private_dir

META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SQLiteDB:
    """Thread-compatible: one connection per object, shared by its threads under a lock. The tables of the
    store (``reconciler.engine.store.Store``) build on it."""

    def __init__(
        self,
        path: str | Path,
        schema: str,
        install: Callable[[sqlite3.Connection], None] | None = None,
        install_version: str = "",
    ) -> None:
        """Open (creating it and its directory if need be) the SQLite file at ``path`` (``:memory:`` for none)
        and create ``schema``'s tables (``CREATE ... IF NOT EXISTS`` statements separated by ``;``), then run
        ``install(connection)`` (a migration; idempotent) in the same transaction.

        The schema runs only when the file's ``PRAGMA user_version`` is not the stamp of this ``schema`` and
        ``install_version`` (a CRC-32): a file already set up is opened without a write transaction, so a
        reader (``kgitops job list``) never queues behind a writer holding the file (WAL lets it read).

        A new file is mode 0600 in a new directory of mode 0700 (``private_files``): it holds the jobs;
        SQLite gives its ``-wal`` and ``-shm`` files the database file's mode."""
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory and not Path(self.path).exists():
            os.close(open_private(private_dir(Path(self.path).parent) / Path(self.path).name, os.O_RDONLY))
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._listeners: list[Callable[[], None]] = []
        if not memory:
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        stamp = zlib.crc32(f"{META_SCHEMA}{schema}\0{install_version}".encode()) & 0x7FFFFFFF
        if self._user_version() == stamp:
            return
        with self.transaction():
            if self._user_version() == stamp:  # another process set it up while this one waited
                return
            for stmt in (META_SCHEMA + schema).split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            if install is not None:
                install(self._db)
            self._db.execute(f"PRAGMA user_version={stamp}")

    def _user_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _wal(self, patience: float = 30.0) -> None:
        """Switch to WAL. Two processes opening a new database at once can get SQLITE_BUSY here without
        SQLite's busy handler ever waiting (the journal mode change needs the lock the other one holds while
        it creates the file), so this waits itself, up to ``patience`` seconds."""
        deadline = time.monotonic() + patience
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)  # backoff on a lock held by another process, not test synchronisation
                delay = min(delay * 2, 0.2)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested use joins the outer transaction; BEGIN IMMEDIATE so writers queue instead of deadlocking."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")
        for listener in self._listeners:
            listener()

    def _next(self, key: str) -> int:
        """The next value of the counter ``key`` in ``meta`` (1 at first), inside the caller's transaction."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        value = int(row[0]) + 1 if row else 1
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))
        return value

    def meta_value(self, key: str) -> str | None:
        """The value of ``key`` in the ``meta`` table, or None."""
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta_value(self, key: str, value: str) -> None:
        """Set ``key`` in the ``meta`` table, in the caller's transaction (or one of its own)."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _query(self, sql: str, args: Sequence[Any] = ()) -> builtins.list[sqlite3.Row]:
        """Reads share the connection with writers in other threads: serialise them."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (in the writing thread) after every transaction this object commits;
        other processes' writes show in ``feed.revision()``."""
        self._listeners.append(listener)
