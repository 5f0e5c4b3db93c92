"""The result cache of ``kgitops validate``: a file whose bytes were checked before, under the same validator
and options, is not parsed again; its findings and cross-file facts are read back instead.

What is kept, per file: its own findings (exactly as printed) and its cross-file facts (each object's kind,
namespace, name and position, its taskIDs and AppImage names: ``reconciler.validate.plain``), never its
documents. The cross-file rules (``CrossFileIndex``) still run over every file's facts on every run, so their
findings (``XF001``-``XF003``) are always those of the whole input as it is now.

The key of an entry is the file's path as reported, a SHA-256 digest of its bytes, and a fingerprint of what
checked them: the kgitops version, ``CACHE_SCHEMA``, the Python version, the validator ``Options``, a
digest of the packaged CRD schemas, and the size and modification time of the validator's own modules (an
edited checkout never reads results of its old code). Standard input, files that cannot be read or are
above the size limit, and binary files (a NUL byte) are never cached.

A run uses the cache from ``reconciler.validate.outcomes.MIN_CACHED_FILES`` readable files on (below,
opening it costs more than it saves). Where: one SQLite file,
``$XDG_CACHE_HOME/kgitops/validate-cache.sqlite`` (default ``~/.cache/kgitops/validate-cache.sqlite``, the
XDG Base Directory specification), mode 0600 in a directory made 0700, opened in WAL mode
(``reconciler.cache_db``) so that two runs may share it. Size: a run that stores anything marks every entry
it used; the file keeps those of the last such run plus at most ``KEEP_OTHERS`` others (the most recently
used). A cache only ever makes a run cheaper, never different and never an error: a damaged file is thrown
away (and started anew), a lock held too long, an unwritable directory or a full disk each mean this run
goes without it (a DEBUG log line says why). Deleting the file is always safe.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import reconciler
from reconciler.validate.findings import Finding
from reconciler.validate.plain import PlainFacts, facts_of, finding_of, plain_finding
from reconciler.validate.result import Facts, Options

if TYPE_CHECKING:
    import sqlite3

    from reconciler.cache_db import CacheDB

CACHE_SCHEMA = 1  # bump when the table or an entry's JSON changes shape
FILE_NAME = "validate-cache.sqlite"
KEEP_OTHERS = 20_000  # entries kept beyond those the last storing run used (other branches, other options)
BATCH = 2000  # entries written per transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key BLOB PRIMARY KEY, data TEXT NOT NULL, seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# the validator's code: an edit to any of these modules (a development checkout) changes the fingerprint
_VALIDATOR_PACKAGES = ("validate", "load", "model", "kuscia")


def _debug(message: str, *args: object) -> None:
    """A DEBUG log line (``logging`` is imported only then: it costs 3 ms, and every ``kgitops validate``
    imports this module to find the cache's path)."""
    import logging

    logging.getLogger(__name__).debug(message, *args)


def default_path() -> str | None:
    """``$XDG_CACHE_HOME/kgitops/validate-cache.sqlite``, else ``~/.cache/kgitops/validate-cache.sqlite``;
    None (no cache) when neither names an absolute directory (nothing is written under the working
    directory). As ``reconciler.config_cache`` finds its directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kgitops", FILE_NAME) if os.path.isabs(base) else None


def keyer(fingerprint: str) -> Callable[[str, bytes], bytes | None]:
    """The function that gives the key of a file (its path as reported, its bytes) under ``fingerprint``: the
    first 128 bits of the SHA-256 digest of the three (SHA-256: twice as fast as BLAKE2b on a CPU with SHA
    extensions), one short column to look up and index, the file's bytes hashed once; None for a binary file
    (a NUL byte), which is never cached."""
    from hashlib import sha256

    base = sha256(fingerprint.encode() + b"\0")

    def key(path: str, data: bytes) -> bytes | None:
        if b"\0" in data:
            return None
        h = base.copy()
        h.update(os.fsencode(path) + b"\0")  # a file name need not be UTF-8: its bytes, as they are
        h.update(data)
        return h.digest()[:16]

    return key


def fingerprint(options: Options) -> str:
    """What a file's result depends on besides its bytes (see the module's docstring), as 32 hex digits."""
    from hashlib import blake2b

    h = blake2b(digest_size=16)
    for part in (validator_fingerprint(), str(CACHE_SCHEMA), repr(options)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def validator_fingerprint() -> str:
    """The validator's own identity, as 32 hex digits: kgitops' version, the Python version, the packaged CRD
    schemas, and the size and mtime of the validator's modules (``_VALIDATOR_PACKAGES``), so that a checkout
    whose rules were edited never reads results its old rules made. Every cache of validation results keys on
    it (this one, and the plan's parse cache and plan base: ``reconciler.plan.parse_cache.fingerprint``)."""
    import pkgutil
    from hashlib import blake2b

    from reconciler.validate.schema import SCHEMA_FILES

    h = blake2b(digest_size=16)
    for part in (reconciler.__version__, sys.version):
        h.update(part.encode() + b"\0")
    for name in sorted(SCHEMA_FILES.values()):
        h.update((pkgutil.get_data("reconciler", f"schemas/{name}") or b"") + b"\0")
    root = os.path.dirname(os.path.abspath(reconciler.__file__))
    for package in _VALIDATOR_PACKAGES:
        try:
            with os.scandir(os.path.join(root, package)) as it:
                found = [(e.name, e.stat()) for e in it if e.is_file()]
            stats = sorted((name, st.st_size, st.st_mtime_ns) for name, st in found)
        except OSError:  # not a directory (a zip import): the version stands for the code
            continue
        h.update(repr((package, stats)).encode())
    return h.hexdigest()


class ResultCache:
    """Each file's own findings and facts by (path, bytes), in the SQLite file at ``path``, for one run under
    ``options``: ``key`` a file (``keyer``), ``lookup`` its key, ``store`` what a miss found, ``close`` at the
    end (writes what is left). Never raises: any failure turns the cache off for the rest of the run
    (``error`` says why). ``hits`` and ``misses`` count the lookups. The lookups of a run share one read
    transaction (a snapshot: one lock taken, not one per file), ended before each batch is written."""

    def __init__(self, path: str, options: Options) -> None:
        self.path = path
        self.fingerprint = fingerprint(options)
        self.key = keyer(self.fingerprint)
        self.hits = 0
        self.misses = 0
        self.error = ""
        self._file: CacheDB | None = None
        self._conn: sqlite3.Connection | None = None
        self._hold = ExitStack()  # holds the connection (CacheDB.connection) for the run
        self._reading = False  # in the read transaction
        self._empty = False  # no entry at all when opened: a lookup cannot hit
        self._off = False
        self._run = 0  # this run's number, once it stores anything
        self._rows: list[tuple[bytes, str]] = []  # to store: (key, data)
        self._used: list[bytes] = []  # keys of the entries this run read

    def _db(self) -> sqlite3.Connection | None:
        if self._off:
            return None
        if self._conn is None:
            from reconciler.cache_db import CacheDB

            self._file = CacheDB(Path(self.path), _SCHEMA, _prepare, private=True)
            self._conn = self._hold.enter_context(self._file.connection())
            self._empty = self._conn.execute("SELECT 1 FROM results LIMIT 1").fetchone() is None
        return self._conn

    def _failed(self, exc: Exception, retry: bool = False) -> None:
        """After a failure: the file is discarded when damaged; a first damaged open may start a new one."""
        self._hold.close()
        self._conn, self._reading = None, False
        if self._file is None:  # CacheDB itself failed: nothing to discard
            self._off = True
            return
        damaged = os.path.exists(self.path)
        self._file.discard(exc)
        _debug("validate result cache not used: %s", self._file.error)
        self.error = self._file.error
        if not (retry and damaged and not os.path.exists(self.path)):
            self._off = True

    def lookup(self, key: bytes, path: str) -> tuple[list[Finding], list[Facts]] | None:
        """The findings and facts of the file at ``path`` whose key is ``key``, if its result is cached."""
        found = self._select(key)
        if found is not None:
            try:
                findings, facts = json.loads(found)
                result = [finding_of(path, f) for f in findings], [facts_of(path, p) for p in facts]
            except (ValueError, TypeError, KeyError):  # a damaged entry: a miss, overwritten after
                pass
            else:
                self.hits += 1
                self._used.append(key)
                return result
        self.misses += 1
        return None

    def _select(self, key: bytes) -> str | None:
        import sqlite3

        for attempt in (0, 1):
            try:
                conn = self._db()
                if conn is None or self._empty:
                    return None
                if not self._reading:
                    conn.execute("BEGIN")
                    self._reading = True
                row = conn.execute("SELECT data FROM results WHERE key=?", (key,)).fetchone()
                return None if row is None else str(row[0])
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, retry=attempt == 0)
        return None

    def store(self, key: bytes, path: str, findings: Sequence[Finding], facts: Sequence[PlainFacts]) -> None:
        """Keep the result of the file at ``path`` under ``key``: its own findings and its facts
        (``plain_facts``). Written in batches of ``BATCH``, the rest by ``close``."""
        if self._off:
            return
        self._rows.append((key, _encode([[plain_finding(f, path) for f in findings], facts])))
        if len(self._rows) >= BATCH:
            self._write(last=False)

    def close(self) -> None:
        """Write what is left, mark the entries this run used and bound the file's size; then close it."""
        if self._rows:
            self._write(last=True)
        self._hold.close()
        if self._file is not None:
            self._file.close()
        if self.hits or self.misses:
            _debug("validate result cache %s: %d hits, %d misses", self.path, self.hits, self.misses)

    def _write(self, last: bool) -> None:
        import sqlite3

        from reconciler.cache_db import writing

        rows, self._rows = self._rows, []
        try:
            conn = self._db()
            if conn is None:
                return
            if self._reading:
                conn.execute("COMMIT")  # the lookups' snapshot ends: a write needs the newest one
                self._reading = False
            with writing(conn):
                if not self._run:
                    got = conn.execute("SELECT value FROM meta WHERE key='run'").fetchone()
                    self._run = (got[0] if got else 0) + 1
                    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('run', ?)", (self._run,))
                conn.executemany(
                    "INSERT OR REPLACE INTO results(key, data, seen) VALUES (?, ?, ?)",
                    [(key, data, self._run) for key, data in rows],
                )
                if last:
                    self._settle(conn)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)

    def _settle(self, conn: sqlite3.Connection) -> None:
        """Mark the entries this run read as seen in it, then drop the least recently seen beyond
        ``KEEP_OTHERS`` others."""
        conn.executemany("UPDATE results SET seen=? WHERE key=?", ((self._run, k) for k in self._used))
        (total,) = conn.execute("SELECT count(*) FROM results").fetchone()
        (mine,) = conn.execute("SELECT count(*) FROM results WHERE seen=?", (self._run,)).fetchone()
        if total - mine > KEEP_OTHERS:
            conn.execute(
                "DELETE FROM results WHERE key IN "
                "(SELECT key FROM results WHERE seen<? ORDER BY seen LIMIT ?)",
                (self._run, total - mine - KEEP_OTHERS),
            )


_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _prepare(db: sqlite3.Connection) -> None:
    """Empty a file whose tables another ``CACHE_SCHEMA`` made (``PRAGMA user_version``)."""
    from reconciler.cache_db import writing

    if db.execute("PRAGMA user_version").fetchone()[0] == CACHE_SCHEMA:
        return
    with writing(db):
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA:
            db.execute("DROP TABLE IF EXISTS results")
            db.execute("DROP TABLE IF EXISTS meta")
            for statement in _SCHEMA.split(";"):  # (not executescript: it would commit first)
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={CACHE_SCHEMA}")
