"""The result cache of ``kgitops validate``: a file whose bytes were checked before, under the same validator
and options, is not parsed again; its findings and cross-file facts are read back instead.

What is kept, per file: its own findings (exactly as printed) and its cross-file facts (each object's kind,
namespace, name and position, its taskIDs and AppImage names: ``reconciler.validate.plain``), never its
documents. The cross-file rules (``CrossFileIndex``) still run over every file's facts on every run, so their
findings (``XF001``-``XF003``) are always those of the whole input as it is now.

The key of an entry is the file's path as reported, a BLAKE2b digest of its bytes, and a fingerprint of what
checked them: the kgitops version, ``CACHE_SCHEMA``, the Python version, the validator ``Options``, a
digest of the packaged CRD schemas, and the size and modification time of the validator's own modules (an
edited checkout never reads results of its old code). Standard input, files that cannot be read or are
above the size limit, and binary files (a NUL byte) are never cached.

A run uses the cache from ``reconciler.validate.run.MIN_CACHED_FILES`` readable files on (below, opening it
costs more than it saves). Where: one SQLite file, ``$XDG_CACHE_HOME/kgitops/validate-cache.sqlite`` (default
``~/.cache/kgitops/validate-cache.sqlite``, the XDG Base Directory specification), mode 0600 in a directory
made 0700, opened in WAL mode (``reconciler.cache_db``) so that two runs may share it. Size: a run that
stores anything marks every entry it used; the file keeps those of the last such run plus at most
``KEEP_OTHERS`` others (the most recently used). A cache only ever makes a run cheaper, never different and
never an error: a damaged file is thrown away (and started anew), a lock held too long, an unwritable
directory or a full disk each mean this run goes without it (a DEBUG log line says why). Deleting the file
is always safe.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from array import array
from collections.abc import Sequence
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
    fingerprint TEXT NOT NULL, path BLOB NOT NULL, digest BLOB NOT NULL, data TEXT NOT NULL,
    seen INTEGER NOT NULL, PRIMARY KEY (fingerprint, path, digest)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# the validator's code: an edit to any of these modules (a development checkout) changes the fingerprint
_VALIDATOR_PACKAGES = ("validate", "load", "model", "kuscia")

log = logging.getLogger(__name__)


def default_path() -> str | None:
    """``$XDG_CACHE_HOME/kgitops/validate-cache.sqlite``, else ``~/.cache/kgitops/validate-cache.sqlite``;
    None (no cache) when neither names an absolute directory (nothing is written under the working
    directory). As ``reconciler.config_cache`` finds its directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kgitops", FILE_NAME) if os.path.isabs(base) else None


def digest(data: bytes) -> bytes:
    """The key of a file's bytes: BLAKE2b, 128 bits."""
    from hashlib import blake2b

    return blake2b(data, digest_size=16).digest()


def cacheable(data: bytes) -> bool:
    """Whether a file's result may be kept: not binary (a NUL byte)."""
    return b"\0" not in data


def fingerprint(options: Options) -> str:
    """What a file's result depends on besides its bytes (see the module's docstring), as 32 hex digits."""
    import pkgutil
    from hashlib import blake2b

    from reconciler.validate.schema import SCHEMA_FILES

    h = blake2b(digest_size=16)
    for part in (reconciler.__version__, str(CACHE_SCHEMA), sys.version, repr(options)):
        h.update(part.encode() + b"\0")
    for name in sorted(SCHEMA_FILES.values()):
        h.update((pkgutil.get_data("reconciler", f"schemas/{name}") or b"") + b"\0")
    root = os.path.dirname(os.path.abspath(reconciler.__file__))
    for package in _VALIDATOR_PACKAGES:
        try:
            with os.scandir(os.path.join(root, package)) as it:
                stats = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in it if e.is_file())
        except OSError:  # not a directory (a zip import): the version stands for the code
            continue
        h.update(repr((package, stats)).encode())
    return h.hexdigest()


class ResultCache:
    """Each file's own findings and facts by (path, bytes), in the SQLite file at ``path``, for one run under
    ``options``. ``lookup`` a file's bytes, ``store`` what a miss found, ``close`` at the end (writes what is
    left). Never raises: any failure turns the cache off for the rest of the run (``error`` says why).
    ``hits`` and ``misses`` count the lookups."""

    def __init__(self, path: str, options: Options) -> None:
        self.path = path
        self.fingerprint = fingerprint(options)
        self.hits = 0
        self.misses = 0
        self.error = ""
        self._file: CacheDB | None = None
        self._off = False
        self._run = 0  # this run's number, once it stores anything
        self._rows: list[tuple[str, bytes, bytes, str, int]] = []  # to store
        self._used = array("q")  # rowids of the entries this run read

    def _db(self) -> CacheDB | None:
        if self._off:
            return None
        if self._file is None:
            from reconciler.cache_db import CacheDB

            self._file = CacheDB(Path(self.path), _SCHEMA, _prepare, private=True)
        return self._file

    def _failed(self, exc: Exception, retry: bool = False) -> None:
        """After a failure: the file is discarded when damaged; a first damaged open may start a new one."""
        assert self._file is not None
        damaged = os.path.exists(self.path)
        self._file.discard(exc)
        log.debug("validate result cache not used: %s", self._file.error)
        self.error = self._file.error
        if not (retry and damaged and not os.path.exists(self.path)):
            self._off = True

    def lookup(self, path: str, data: bytes) -> tuple[bytes, tuple[list[Finding], list[Facts]] | None]:
        """The key of ``data`` (to ``store`` a miss under), and the findings and facts of the file at ``path``
        if its result is cached, else None."""
        key = digest(data)
        row = self._select(path, key)
        if row is not None:
            try:
                findings, facts = json.loads(row[1])
                found = [finding_of(path, f) for f in findings], [facts_of(path, p) for p in facts]
            except (ValueError, TypeError, KeyError):  # a damaged entry: a miss, overwritten after
                row = None
            else:
                self.hits += 1
                self._used.append(row[0])
                return key, found
        self.misses += 1
        return key, None

    def _select(self, path: str, key: bytes) -> tuple[int, str] | None:
        import sqlite3

        for attempt in (0, 1):
            db = self._db()
            if db is None:
                return None
            try:
                with db.connection() as conn:
                    row: tuple[int, str] | None = conn.execute(
                        "SELECT rowid, data FROM results WHERE fingerprint=? AND path=? AND digest=?",
                        (self.fingerprint, _path_key(path), key),
                    ).fetchone()
                return row
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, retry=attempt == 0)
        return None

    def store(self, path: str, key: bytes, findings: Sequence[Finding], facts: Sequence[PlainFacts]) -> None:
        """Keep the result of the file at ``path`` whose bytes have digest ``key``: its own findings and its
        facts (``plain_facts``). Written in batches of ``BATCH``, the rest by ``close``."""
        if self._off:
            return
        data = json.dumps([[plain_finding(f, path) for f in findings], facts], separators=(",", ":"))
        self._rows.append((self.fingerprint, _path_key(path), key, data, 0))
        if len(self._rows) >= BATCH:
            self._write(last=False)

    def close(self) -> None:
        """Write what is left, mark the entries this run used and bound the file's size; then close it."""
        if self._rows:
            self._write(last=True)
        if self._file is not None:
            self._file.close()
        if self.hits or self.misses:
            log.debug("validate result cache %s: %d hits, %d misses", self.path, self.hits, self.misses)

    def _write(self, last: bool) -> None:
        import sqlite3

        from reconciler.cache_db import writing

        rows, self._rows = self._rows, []
        db = self._db()
        if db is None:
            return
        try:
            with db.connection() as conn, writing(conn):
                if not self._run:
                    got = conn.execute("SELECT value FROM meta WHERE key='run'").fetchone()
                    self._run = (got[0] if got else 0) + 1
                    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('run', ?)", (self._run,))
                conn.executemany(
                    "INSERT OR REPLACE INTO results(fingerprint, path, digest, data, seen) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [row[:4] + (self._run,) for row in rows],
                )
                if last:
                    self._settle(conn)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)

    def _settle(self, conn: sqlite3.Connection) -> None:
        """Mark the entries this run read as seen in it, then drop the least recently seen beyond
        ``KEEP_OTHERS`` others."""
        conn.executemany("UPDATE results SET seen=? WHERE rowid=?", ((self._run, r) for r in self._used))
        (total,) = conn.execute("SELECT count(*) FROM results").fetchone()
        (mine,) = conn.execute("SELECT count(*) FROM results WHERE seen=?", (self._run,)).fetchone()
        if total - mine > KEEP_OTHERS:
            conn.execute(
                "DELETE FROM results WHERE rowid IN "
                "(SELECT rowid FROM results WHERE seen<? ORDER BY seen LIMIT ?)",
                (self._run, total - mine - KEEP_OTHERS),
            )


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


def _path_key(path: str) -> bytes:
    """A path as bytes (a file name need not be UTF-8: its undecodable bytes come back as they were)."""
    return os.fsencode(path)
