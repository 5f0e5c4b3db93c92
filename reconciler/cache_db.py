"""One SQLite cache file, as its owners use it: a state directory's ``cache/`` (the parse cache, the plan
base) and ``kgitops validate``'s result cache.

The file is opened on first use in WAL mode, so two processes may read and write it at once, and the one
connection is shared by threads under a lock. A cache only ever makes a plan cheaper: the owner turns every
failure into a miss and calls ``discard``, which throws a damaged file away (not a database, a bad page) so
the next use starts empty. A lock held past ``BUSY_TIMEOUT_MS`` or a full disk leaves the file as it is.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

BUSY_TIMEOUT_MS = 2000  # a writer holding the file longer than this: this run goes without the cache


class CacheDB:
    """``path``'s connection. ``schema`` (a script of ``CREATE … IF NOT EXISTS``) runs on every open, then
    ``prepare(db)`` if given (the parse cache empties a file written under another fingerprint there).
    ``private``: a directory made for the file is 0700 and a new file 0600 (SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode), for a cache in the user's home."""

    def __init__(
        self,
        path: Path,
        schema: str,
        prepare: Callable[[sqlite3.Connection], None] | None = None,
        private: bool = False,
    ) -> None:
        self.path = path
        self.schema = schema
        self.prepare = prepare
        self.private = private
        self.error = ""  # why the cache was last not used (a damaged file, a lock), for the logs
        self._db: sqlite3.Connection | None = None  # kept open between uses (``kgitops watch``)
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, opened on first use; closed again after any error (the next use reopens)."""
        with self._lock:
            if self._db is None:
                self._db = self._connect()
            try:
                yield self._db
            except BaseException:
                self.close()
                raise

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700 if self.private else 0o777, parents=True, exist_ok=True)
        if self.private:
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(self.schema)
            if self.prepare is not None:
                self.prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def discard(self, exc: Exception) -> None:
        """After a failure: close, remember why (``error``), and delete the file if it is damaged."""
        self.close()
        self.error = f"{self.path}: {exc}"
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)


@contextmanager
def writing(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``: the write lock at once), committed when the block ends and
    rolled back when it raises. A block that returns early without writing commits nothing."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        with suppress(sqlite3.Error):  # never let a failed rollback hide what went wrong
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
