"""``FirstSeen`` in flat memory: the cross-file index of a run over any number of files, off the heap.

The cross-file rules remember one entry per object and per KusciaTask name of the input, so an index in
dicts grows with the input (about 1 MiB per 1,000 seed-like jobs). ``SpilledSeen`` keeps its newest entries
in a dict of at most ``BUFFER`` and moves them in batches to a temporary SQLite database, which SQLite keeps
in a file of its own (deleted when closed) behind a page cache of ``CACHE_KIB``. A bitmap of fixed size, one
bit per hash of a key, says which keys may have been seen: a key whose bit is clear is new without asking
the database, so only a key seen before (a duplicate, which is a finding) or a rare collision costs a query.
Small inputs never open the database. Memory: ``BUFFER`` entries and the bitmap (``BITMAP_BYTES``) per
store, and the page cache (``CACHE_KIB``) of the database they share, whatever the input's size.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

from reconciler.validate.crossfile import FirstPlace

if TYPE_CHECKING:
    import sqlite3

BUFFER = 2048
BITMAP_BYTES = 1 << 18  # 2 Mi bits: one key in 25 collides at 80,000 keys, and costs a query
CACHE_KIB = 512
_MASK = BITMAP_BYTES * 8 - 1


class Spill:
    """The temporary database the ``SpilledSeen`` of one run share, opened when the first one spills.
    ``close`` deletes it."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._tables = 0

    def table(self) -> str:
        """A new table's name (created when the database is)."""
        self._tables += 1
        return f"seen{self._tables}"

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            import sqlite3  # here: a run that never spills (most) does not load it

            # "": a temporary database in a file of its own, deleted on close
            self._db = sqlite3.connect("", isolation_level=None)
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            for n in range(1, self._tables + 1):
                self._db.execute(f"CREATE TABLE seen{n} (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
        return self._db

    @property
    def opened(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SpilledSeen:
    """``FirstSeen`` whose memory stays flat (see the module), in a table of ``spill``."""

    def __init__(self, spill: Spill) -> None:
        self._spill = spill
        self._table = spill.table()
        self._select = f"SELECT value FROM {self._table} WHERE key = ?"
        self._insert = f"INSERT INTO {self._table} VALUES (?, ?)"
        self._bits = bytearray(BITMAP_BYTES)
        self._buffer: dict[str, FirstPlace] = {}

    def first(self, key: str, value: FirstPlace) -> FirstPlace | None:
        h = hash(key) & _MASK
        bit = 1 << (h & 7)
        if self._bits[h >> 3] & bit:
            prior = self._buffer.get(key)
            if prior is not None:
                return prior
            if self._spill.opened:
                row = self._spill.db().execute(self._select, (key,)).fetchone()
                if row is not None:
                    found: FirstPlace = pickle.loads(row[0])
                    return found
        else:
            self._bits[h >> 3] |= bit
        self._buffer[key] = value
        if len(self._buffer) >= BUFFER:
            db = self._spill.db()
            with db:  # one transaction per batch
                db.execute("BEGIN")
                db.executemany(self._insert, ((k, pickle.dumps(v)) for k, v in self._buffer.items()))
            self._buffer.clear()
        return None
