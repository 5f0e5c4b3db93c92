"""What changed among the objects of a kind since a resource version: the live state's feed (for
``reconciler.apply.live_cache``), beside the driver's own (``engine/changefeed.py``, ``Store.feed``).

Every write of an object gives its row the next value of the store-wide counter (``rv``, Kuscia's and
Kubernetes' resourceVersion); a deletion leaves a tombstone with its own counter value. So "what changed
since R" is one indexed query on ``objects(kind, rv)`` plus the deletions after R: the cost grows with what
changed, not with what exists (``reconciler.apply.live_cache`` keeps the live state between plans on top).
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from dataclasses import dataclass

from reconciler.model import ObjectRef, Resource

# Added to the store's schema; ``CREATE ... IF NOT EXISTS``, so a state directory from before gets them when a
# version with the change feed opens it (its earlier deletions left no rows, but no reader holds a
# version from before either: the first read of every reader is a full one).
CHANGES_SCHEMA = """
CREATE INDEX IF NOT EXISTS objects_kind_rv ON objects(kind, rv);
CREATE TABLE IF NOT EXISTS deletions (
    rv INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL
);
"""

TOMBSTONES_KEPT = 10_000  # deletions remembered for ``Store.changes``


@dataclass(frozen=True)
class Changes:
    """``Store.changes``: the store's resource ``version`` at the read; ``complete``: ``changed`` holds every
    object of the kind (the caller replaces what it holds), else only those written since; ``removed``: the
    refs deleted since (a ref deleted and created again is in both, ``changed`` wins)."""

    version: int
    complete: bool
    changed: builtins.list[Resource]
    removed: builtins.list[ObjectRef]


class LiveChangeFeed:
    """The change feed part of ``reconciler.engine.store.Store`` (which provides the connection, its lock,
    the transaction depth and the row decoder)."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _depth: int

    @staticmethod
    def _row(row: sqlite3.Row) -> Resource:
        raise NotImplementedError

    def _tombstone(self, ref: ObjectRef, rv: int) -> None:
        """Remember a deletion at ``rv`` for ``changes``; the oldest beyond ``TOMBSTONES_KEPT`` are dropped,
        and the newest dropped one becomes the horizon (a ``since`` older than it gets a full list)."""
        self._db.execute(
            "INSERT INTO deletions(rv, kind, namespace, name) VALUES (?,?,?,?)",
            (rv, ref.kind, ref.namespace, ref.name),
        )
        if rv % 256 == 0:
            row = self._db.execute(
                "SELECT rv FROM deletions ORDER BY rv DESC LIMIT 1 OFFSET ?", (TOMBSTONES_KEPT,)
            ).fetchone()
            if row is not None:
                self._db.execute("DELETE FROM deletions WHERE rv <= ?", (row[0],))
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('deletions_horizon', ?)", (str(row[0]),)
                )

    def changes(self, kind: str, since: int | None) -> Changes:
        """Objects of ``kind`` written after resource version ``since`` and the refs deleted since, read in
        one snapshot, with the store's resource version at that snapshot (the next ``since``). A ``since``
        of None, or older than the kept deletions, gets every object (``complete``). One indexed query on
        ``objects(kind, rv)``: the cost grows with what changed, not with what exists."""
        with self._lock:
            outer = self._depth > 0  # inside a transaction of this store: already one snapshot
            if not outer:
                self._db.execute("BEGIN")  # deferred: a read snapshot, writers are not held up (WAL)
            try:
                return self._changes(kind, since)
            finally:
                if not outer:
                    self._db.execute("COMMIT")

    def _changes(self, kind: str, since: int | None) -> Changes:
        keys = "SELECT key, value FROM meta WHERE key IN ('rv', 'deletions_horizon')"
        meta = {str(k): int(v) for k, v in self._db.execute(keys)}
        version = meta.get("rv", 0)
        if since is None or since < meta.get("deletions_horizon", 0) or since > version:
            rows = self._db.execute("SELECT * FROM objects WHERE kind=? ORDER BY name", (kind,)).fetchall()
            return Changes(version, True, [self._row(r) for r in rows], [])
        sql = "SELECT * FROM objects WHERE kind=? AND rv>? ORDER BY rv"
        changed = [self._row(r) for r in self._db.execute(sql, (kind, since)).fetchall()]
        sql = "SELECT namespace, name FROM deletions WHERE kind=? AND rv>? ORDER BY rv"
        gone = [ObjectRef(kind, r[0], r[1]) for r in self._db.execute(sql, (kind, since)).fetchall()]
        return Changes(version, False, changed, gone)
