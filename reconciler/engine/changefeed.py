"""The store's change feed: what the event-driven driver reads to learn what was written, and by whom not.

Every create/put of an object gives its row the next ``rv`` (a global counter in ``meta``, also moved by
pod writes and deletions), so ``revision()`` is one primary-key read, cheap enough to poll, and what changed
since a revision is one range of the ``objects_rv`` index. A deleted task leaves a row in ``tombstones`` (a
trigger), so the driver collects its processes without scanning every pod. ``processed_rv`` in ``meta`` is
the revision up to which a driver reconciled everything: the next driver starts from there.

Reached as ``Store.feed``; it shares the store's connection, lock and transactions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from reconciler.model import ObjectRef

SCHEMA = """
CREATE INDEX IF NOT EXISTS objects_rv ON objects(rv);
CREATE TABLE IF NOT EXISTS tombstones (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, owner TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS objects_tombstone AFTER DELETE ON objects WHEN old.kind = 'KusciaTask'
BEGIN
    INSERT INTO tombstones(kind, namespace, name, uid, owner)
    VALUES (old.kind, old.namespace, old.name, old.uid, old.owner);
END;
"""


@dataclass(frozen=True)
class Change:
    """An object written (created, updated) or deleted since some revision: its identity, its uid, its
    owner's uid ("" for none) and its ``status.phase`` as written ("" for a deletion)."""

    ref: ObjectRef
    uid: str
    owner: str
    phase: str = ""


class ChangeFeed:
    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.RLock,
        transaction: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._db = db
        self._lock = lock
        self._transaction = transaction

    @staticmethod
    def install(db: sqlite3.Connection) -> None:
        """Create the index, table and trigger (idempotent; inside the store's schema transaction)."""
        current = ""
        for line in SCHEMA.splitlines(keepends=True):
            current += line
            if sqlite3.complete_statement(current):  # keeps the trigger's body whole
                db.execute(current)
                current = ""

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def revision(self) -> int:
        """The store's revision: it grows with every write of any process (objects, pods, deletions)."""
        rows = self._query("SELECT value FROM meta WHERE key='rv'")
        return int(rows[0][0]) if rows else 0

    def changes_since(self, revision: int) -> tuple[int, list[Change]]:
        """Objects created or updated after ``revision`` (from ``revision()`` earlier), oldest first, and the
        revision they bring the caller to. Deleted tasks: ``tombstones_since``."""
        with self._lock:
            now = self.revision()
            if now <= revision:
                return revision, []
            sql = "SELECT kind, namespace, name, uid, owner, rv, json_extract(status, '$.phase') FROM objects"
            rows = self._query(sql + " WHERE rv > ? ORDER BY rv", (revision,))
        changes = [Change(ObjectRef(r[0], r[1], r[2]), str(r[3]), str(r[4]), str(r[6] or "")) for r in rows]
        # a transaction commits all of its rows at once and in rv order, so nothing below the highest rv seen
        # can still appear
        return max([now, *(int(r[5]) for r in rows)]), changes

    def identities(self, kind: str) -> list[tuple[ObjectRef, str]]:
        """(ref, uid) of every object of a kind, without decoding any."""
        rows = self._query("SELECT namespace, name, uid FROM objects WHERE kind=?", (kind,))
        return [(ObjectRef(kind, r[0], r[1]), str(r[2])) for r in rows]

    def tombstones_since(self, last: int) -> tuple[int, list[Change]]:
        """Tasks deleted after tombstone ``last`` (0 at first), and the newest tombstone's id."""
        rows = self._query(
            "SELECT id, kind, namespace, name, uid, owner FROM tombstones WHERE id > ? ORDER BY id", (last,)
        )
        changes = [Change(ObjectRef(r[1], r[2], r[3]), str(r[4]), str(r[5])) for r in rows]
        return (int(rows[-1][0]) if rows else last), changes

    def drop_tombstones(self, upto: int) -> None:
        """Forget the tombstones up to id ``upto``: the one driver of the state directory has read them."""
        with self._transaction():
            self._db.execute("DELETE FROM tombstones WHERE id <= ?", (upto,))

    def processed_revision(self) -> int | None:
        """The revision up to which a driver reconciled everything (``mark_processed``), or None."""
        rows = self._query("SELECT value FROM meta WHERE key='processed_rv'")
        return int(rows[0][0]) if rows else None

    def mark_processed(self, revision: int) -> None:
        """Record that every write up to ``revision`` was reconciled until nothing changed."""
        with self._transaction():
            sql = "INSERT OR REPLACE INTO meta(key, value) VALUES ('processed_rv', ?)"
            self._db.execute(sql, (str(revision),))
