"""The store's one change log: what was written and deleted since a revision, for both of its readers.

Every create/put of an object gives its row the next value of the store-wide counter ``rv`` (in ``meta``;
Kuscia's and Kubernetes' resourceVersion, also moved by pod writes), and every deletion (``Store.delete``, the
only way an object goes) leaves a row in ``deletions`` at its own counter value, with the object's kind,
namespace, name, uid and owner's uid. So "what changed since R" is one range of the ``objects(kind, rv)``
index plus the deletions after R: the cost grows with what changed, not with what exists.

Two readers:

- the event-driven driver (``reconciler.engine.engine``): ``revision`` (one primary-key read, cheap enough to
  poll), ``changes_since`` and ``deletions_since``; its deletion cursor (``begin_reading``,
  ``mark_deletions_read``) and the revision up to which it reconciled everything (``processed_revision``) are
  kept in ``meta``, the latter so that the next driver starts from there;
- the plan's live cache (``Backend.changes``, ``reconciler.apply.live_cache``): ``changes(kind, since)``.

One horizon policy: the log keeps the newest ``KEPT_DELETIONS`` deletions, plus every deletion the driving
process has not read yet (its cursor, while one drives); the newest deletion dropped is the horizon, and a
``changes`` reader whose ``since`` is older gets a full list (and relists). The driver itself never misses a
deletion: the ones after its cursor stay, and when it starts it looks at every pod whose task is gone.

Reached as ``Store.feed``; it shares the store's connection, lock and transactions.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK

if TYPE_CHECKING:  # what the readers get: loaded by the first read of the log (a job list never reads it)
    from reconciler.engine.change_records import Change, Changes

SCHEMA = """
CREATE INDEX IF NOT EXISTS objects_kind_rv ON objects(kind, rv);
CREATE TABLE IF NOT EXISTS deletions (
    rv INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT ''
)
"""

KEPT_DELETIONS = 10_000  # deletions kept for ``changes`` readers beyond the driver's cursor
TRIM_EVERY = 256  # a deletion whose rv is a multiple of this trims the log
DRIVER_KINDS = (KUSCIA_JOB, KUSCIA_TASK)  # what the driver's controllers reconcile


def install(db: sqlite3.Connection) -> None:
    """Create the index and the table, migrating a state directory written by an earlier version (inside
    the store's schema transaction; idempotent).

    Earlier versions kept two logs: ``tombstones`` (filled by the trigger ``objects_tombstone`` for deleted
    tasks, read and emptied by the driver) and ``deletions`` without uid and owner (for ``changes``), with an
    ``objects_rv`` index beside ``objects_kind_rv``. The trigger, the table and the index go; the deletions
    kept get an empty uid and owner, which only the driver reads, and only for deletions after its cursor:
    a driver starting on a migrated directory sets its cursor past them and finds the processes of the
    tasks deleted meanwhile from the pods whose task is gone."""
    db.execute("DROP TRIGGER IF EXISTS objects_tombstone")
    db.execute("DROP TABLE IF EXISTS tombstones")
    db.execute("DROP INDEX IF EXISTS objects_rv")
    columns = {str(r[1]) for r in db.execute("PRAGMA table_info(deletions)")}
    if columns:
        for column in ("uid", "owner"):
            if column not in columns:
                db.execute(f"ALTER TABLE deletions ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            db.execute(stmt)


class ChangeLog:
    """The change log over the store's connection (``db``), its lock, its ``transaction`` context and its
    row decoder (``decode``: an ``objects`` row to a Resource)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.RLock,
        transaction: Callable[[], AbstractContextManager[None]],
        decode: Callable[[sqlite3.Row], Resource],
    ) -> None:
        self._db = db
        self._lock = lock
        self._transaction = transaction
        self._decode = decode

    def _query(self, sql: str, args: Sequence[object] = ()) -> builtins.list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _meta(self, key: str) -> int | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return int(rows[0][0]) if rows else None

    # -- writing (inside ``Store.delete``'s transaction) -------------------------------------------
    def record_deletion(self, ref: ObjectRef, uid: str, owner: str, rv: int) -> None:
        """Log the deletion of ``ref`` (its ``uid``, its owner's uid) at revision ``rv``; every
        ``TRIM_EVERY`` revisions the log is trimmed (``trim``)."""
        self._db.execute(
            "INSERT INTO deletions(rv, kind, namespace, name, uid, owner) VALUES (?,?,?,?,?,?)",
            (rv, ref.kind, ref.namespace, ref.name, uid, owner),
        )
        if rv % TRIM_EVERY == 0:
            self.trim()

    def trim(self) -> None:
        """Drop the deletions older than the newest ``KEPT_DELETIONS`` that the driver has read (its cursor,
        ``mark_deletions_read``; none while nobody drives), and move the horizon to the newest one dropped.
        A cursor left by a killed driver holds deletions back until the next driver starts (``begin_reading``;
        every write of a job starts one)."""
        with self._transaction():
            row = self._db.execute(
                "SELECT rv FROM deletions ORDER BY rv DESC LIMIT 1 OFFSET ?", (KEPT_DELETIONS,)
            ).fetchone()
            if row is None:
                return
            limit = int(row[0])
            sql = "SELECT min(CAST(value AS INTEGER)) FROM meta WHERE key LIKE 'deletions_read:%'"
            cursor = self._db.execute(sql).fetchone()[0]
            if cursor is not None:
                limit = min(limit, int(cursor))
            newest = self._db.execute("SELECT max(rv) FROM deletions WHERE rv <= ?", (limit,)).fetchone()[0]
            if newest is None:
                return
            self._db.execute("DELETE FROM deletions WHERE rv <= ?", (newest,))
            self._db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('deletions_horizon', ?)", (str(newest),)
            )

    # -- the driver ---------------------------------------------------------------------------------
    def revision(self) -> int:
        """The store's revision: it grows with every write of any process (objects, pods, deletions)."""
        return self._meta("rv") or 0

    def changes_since(
        self, revision: int, kinds: Sequence[str] = DRIVER_KINDS
    ) -> tuple[int, builtins.list[Change]]:
        """Objects of ``kinds`` created or updated after ``revision`` (from ``revision()`` earlier), oldest
        first, and the revision they bring the caller to. Deletions: ``deletions_since``."""
        with self._lock:
            now = self.revision()
            if now <= revision:
                return revision, []
            marks = ",".join("?" * len(kinds))
            sql = "SELECT kind, namespace, name, uid, owner, rv, json_extract(status, '$.phase') FROM objects"
            rows = self._query(sql + f" WHERE kind IN ({marks}) AND rv > ? ORDER BY rv", (*kinds, revision))
        from reconciler.engine.change_records import Change

        changes = [Change(ObjectRef(r[0], r[1], r[2]), str(r[3]), str(r[4]), str(r[6] or "")) for r in rows]
        # a transaction commits all of its rows at once and in rv order, so nothing below the highest rv seen
        # can still appear
        return max([now, *(int(r[5]) for r in rows)]), changes

    def deletions_since(self, after: int) -> tuple[int, builtins.list[Change]]:
        """Objects deleted after revision ``after``, oldest first, and the newest deletion's revision
        (``after`` if none)."""
        rows = self._query(
            "SELECT rv, kind, namespace, name, uid, owner FROM deletions WHERE rv > ? ORDER BY rv", (after,)
        )
        from reconciler.engine.change_records import Change

        changes = [Change(ObjectRef(r[1], r[2], r[3]), str(r[4]), str(r[5])) for r in rows]
        return (int(rows[-1][0]) if rows else after), changes

    def begin_reading(self, reader: str) -> int:
        """A driver starts: its cursor (``reader``, a token of its own) is set to the newest deletion logged,
        and the cursors of earlier drivers (ended, or killed) are dropped. Returns that revision (0 for no
        deletion): the driver looks at the pods of every task gone before it instead."""
        with self._transaction():
            self._db.execute("DELETE FROM meta WHERE key LIKE 'deletions_read:%'")
            newest = int(self._db.execute("SELECT max(rv) FROM deletions").fetchone()[0] or 0)
            self.mark_deletions_read(reader, newest)
        return newest

    def mark_deletions_read(self, reader: str, upto: int) -> None:
        """Driver ``reader`` has taken in every deletion up to revision ``upto``: ``trim`` may drop them."""
        with self._transaction():
            sql = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"
            self._db.execute(sql, (f"deletions_read:{reader}", str(upto)))

    def end_reading(self, reader: str) -> None:
        """Driver ``reader`` stops driving: ``trim`` keeps no deletions for it any more."""
        with self._transaction():
            self._db.execute("DELETE FROM meta WHERE key=?", (f"deletions_read:{reader}",))

    def identities(self, kind: str) -> builtins.list[tuple[ObjectRef, str]]:
        """(ref, uid) of every object of a kind, without decoding any."""
        rows = self._query("SELECT namespace, name, uid FROM objects WHERE kind=?", (kind,))
        return [(ObjectRef(kind, r[0], r[1]), str(r[2])) for r in rows]

    def processed_revision(self) -> int | None:
        """The revision up to which a driver reconciled everything (``mark_processed``), or None."""
        return self._meta("processed_rv")

    def mark_processed(self, revision: int) -> None:
        """Record that every write up to ``revision`` was reconciled until nothing changed."""
        with self._transaction():
            sql = "INSERT OR REPLACE INTO meta(key, value) VALUES ('processed_rv', ?)"
            self._db.execute(sql, (str(revision),))

    # -- the live state's feed (``Backend.changes``) ------------------------------------------------
    def changes(self, kind: str, since: int | None) -> Changes:
        """Objects of ``kind`` written after resource version ``since`` and the refs deleted since, read in
        one snapshot, with the store's resource version at that snapshot (the next ``since``). A ``since``
        of None, newer than the store, or older than the horizon (the newest deletion trimmed) gets every
        object (``complete``). One indexed query on ``objects(kind, rv)``: the cost grows with what changed,
        not with what exists."""
        with self._lock:
            outer = self._db.in_transaction  # inside a transaction of this store: already one snapshot
            if not outer:
                self._db.execute("BEGIN")  # deferred: a read snapshot, writers are not held up (WAL)
            try:
                return self._changes(kind, since)
            finally:
                if not outer:
                    self._db.execute("COMMIT")

    def _changes(self, kind: str, since: int | None) -> Changes:
        from reconciler.engine.change_records import Changes

        keys = "SELECT key, value FROM meta WHERE key IN ('rv', 'deletions_horizon')"
        meta = {str(k): int(v) for k, v in self._db.execute(keys)}
        version = meta.get("rv", 0)
        if since is None or since < meta.get("deletions_horizon", 0) or since > version:
            rows = self._db.execute("SELECT * FROM objects WHERE kind=? ORDER BY name", (kind,)).fetchall()
            return Changes(version, True, [self._decode(r) for r in rows], [])
        sql = "SELECT * FROM objects WHERE kind=? AND rv>? ORDER BY rv"
        changed = [self._decode(r) for r in self._db.execute(sql, (kind, since)).fetchall()]
        sql = "SELECT namespace, name FROM deletions WHERE kind=? AND rv>? ORDER BY rv"
        gone = [ObjectRef(kind, r[0], r[1]) for r in self._db.execute(sql, (kind, since)).fetchall()]
        return Changes(version, False, changed, gone)
