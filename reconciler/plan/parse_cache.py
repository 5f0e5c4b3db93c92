"""The parse cache on disk, so that every process after the first plans incrementally (``kgitops diff`` and
``sync`` in CI run in a fresh process each time).

One SQLite file in the state directory (``<state_dir>/cache/parse-cache.sqlite``, WAL mode, so two processes
may read and write it at once): one row per (path, blob id) with the pickled parse and validation result of
that file, and one row with the cross-file checker's state. Every row belongs to a *fingerprint*: the kgitops
version, ``CACHE_SCHEMA``, the Python version and the validator options. A cache written under another
fingerprint is emptied before use, never read.

The cache can only ever make a plan cheaper, never different: a file that cannot be opened, a row that cannot
be decoded, a lock held too long: each is a miss (the file is parsed again), never an error. Deleting the
file is always safe.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from reconciler.cache_db import CacheDB, writing
from reconciler.validate.result_cache import validator_fingerprint

CACHE_SCHEMA = 1  # bump when anything pickled here (Checked, FileResult, Resource, ...) changes shape
FILE_NAME = "parse-cache.sqlite"
KEEP_EXTRA = 1000  # rows beyond the current files kept for other revisions (a branch, the previous commit)

Key = tuple[str, str]  # (path, blob id)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    path TEXT NOT NULL, digest TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (path, digest)
);
CREATE TABLE IF NOT EXISTS memo (
    name TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, key)
);
"""
MEMO_LIMIT = 100_000  # rows per memo; beyond it the memo starts over


def fingerprint(options: Any) -> str:
    """What a cached result depends on besides the file's content: this module's schema, the validator
    options (``reconciler.validate.Options``) and the validator itself (``validator_fingerprint``: kgitops'
    version, the Python version, for the pickles too, the CRD schemas and the validator's modules)."""
    text = "|".join((validator_fingerprint(), str(CACHE_SCHEMA), repr(options)))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_path(state_dir: str | Path) -> Path:
    """Where the parse cache of a state directory lives."""
    return Path(state_dir) / "cache" / FILE_NAME


class ParseCacheFile:
    """Parse results by (path, blob id), persisted across processes. Never raises on a bad cache: a read that
    fails returns nothing (and the damaged file is replaced by a new one), a write that fails is skipped."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.loaded = 0  # entries the last ``load`` returned
        self.file = CacheDB(self.path, _SCHEMA, self._adopt)

    @property
    def error(self) -> str:
        """Why the cache was last not used (a damaged file, a lock), for the bench and the logs."""
        return self.file.error

    def close(self) -> None:
        self.file.close()

    def _adopt(self, db: sqlite3.Connection) -> None:
        """Empty a file that another kgitops version, schema or option set wrote (its rows are never read)."""
        row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if row is None or row[0] != self.fingerprint:
            with writing(db):
                row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
                if row is None or row[0] != self.fingerprint:  # still: no other process adopted it meanwhile
                    db.execute("DELETE FROM entries")
                    db.execute("DELETE FROM memo")
                    db.execute("DELETE FROM meta")
                    db.execute("INSERT INTO meta(key, value) VALUES ('fingerprint', ?)", (self.fingerprint,))

    def load(self, wanted: Iterable[Key]) -> tuple[dict[Key, Any], Any]:
        """The cached results of the ``wanted`` files that are in the cache, and the cross-file state (None
        if absent). Entries that cannot be unpickled are left out (they are parsed again)."""
        self.loaded = 0
        want = set(wanted)
        out: dict[Key, Any] = {}
        cross: Any = None
        try:
            if not self.path.is_file():
                return out, None
            with self.file.connection() as db:
                rows = db.execute("SELECT path, digest, data FROM entries").fetchall()
                state = db.execute("SELECT value FROM meta WHERE key='cross_file'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            self.file.discard(exc)
            return out, None
        for path, digest, data in rows:
            key = (path, digest)
            if key in want:
                try:
                    out[key] = pickle.loads(data)
                except Exception:  # noqa: BLE001 - a damaged row is a miss, whatever the unpickler says
                    continue
        if state is not None:
            try:
                cross = pickle.loads(state[0])
            except Exception:  # noqa: BLE001 - as above
                cross = None
        self.loaded = len(out)
        return out, cross

    def get(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """The cached results of a few files (an incremental plan's), read one by one; absent or
        undecodable rows are left out."""
        out: dict[Key, Any] = {}
        try:
            if not self.path.is_file():
                return out
            with self.file.connection() as db:
                for path, digest in keys:
                    row = db.execute(
                        "SELECT data FROM entries WHERE path=? AND digest=?", (path, digest)
                    ).fetchone()
                    if row is not None:
                        with suppress(Exception):  # a damaged row is a miss, whatever the unpickler says
                            out[(path, digest)] = pickle.loads(row[0])
        except (sqlite3.Error, OSError) as exc:
            self.file.discard(exc)
        return out

    def save(self, new: Mapping[Key, Any], current: Iterable[Key] | None, cross_file: Any = None) -> None:
        """Store ``new`` entries and (unless None) the cross-file state; rows of files that are in neither the
        ``current`` revision nor among the ``KEEP_EXTRA`` others are dropped (``current`` None: none are).
        Skipped (``error`` set) when the cache cannot be written."""
        keep = set(current) if current is not None else None
        try:
            # a generator: each entry is pickled as SQLite takes it, never all of them in memory at once
            blobs = ((p, d, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)) for (p, d), v in new.items())
            cross = None if cross_file is None else pickle.dumps(cross_file, protocol=pickle.HIGHEST_PROTOCOL)
            with self.file.connection() as db, writing(db):
                db.executemany("INSERT OR REPLACE INTO entries(path, digest, data) VALUES (?,?,?)", blobs)
                if cross is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO meta(key, value) VALUES ('cross_file', ?)", (cross,)
                    )
                (count,) = db.execute("SELECT count(*) FROM entries").fetchone()
                if keep is not None and count > len(keep) + KEEP_EXTRA:
                    stale = [
                        k for k in db.execute("SELECT path, digest FROM entries") if tuple(k) not in keep
                    ]
                    db.executemany("DELETE FROM entries WHERE path=? AND digest=?", stale)
        except (sqlite3.Error, OSError, pickle.PicklingError) as exc:
            self.file.discard(exc)

    def load_memo(self, name: str) -> dict[str, Any]:
        """Another cache by blob id kept in the same file (``name``: whose; e.g. the jobs the approvals step
        reads from each blob): key -> value; rows that cannot be decoded are left out."""
        try:
            if not self.path.is_file():
                return {}
            with self.file.connection() as db:
                rows = db.execute("SELECT key, data FROM memo WHERE name=?", (name,)).fetchall()
        except (sqlite3.Error, OSError) as exc:
            self.file.discard(exc)
            return {}
        out: dict[str, Any] = {}
        for key, data in rows:
            try:
                out[key] = pickle.loads(data)
            except Exception:  # noqa: BLE001 - a damaged row is a miss
                continue
        return out

    def save_memo(self, name: str, new: Mapping[str, Any]) -> None:
        """Add ``new`` rows to the memo ``name``; skipped (``error`` set) when the cache cannot be written."""
        if not new:
            return
        try:
            rows = [(name, k, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)) for k, v in new.items()]
            with self.file.connection() as db, writing(db):
                (count,) = db.execute("SELECT count(*) FROM memo WHERE name=?", (name,)).fetchone()
                if count + len(rows) > MEMO_LIMIT:
                    db.execute("DELETE FROM memo WHERE name=?", (name,))
                db.executemany("INSERT OR REPLACE INTO memo(name, key, data) VALUES (?,?,?)", rows)
        except (sqlite3.Error, OSError, pickle.PicklingError) as exc:
            self.file.discard(exc)
