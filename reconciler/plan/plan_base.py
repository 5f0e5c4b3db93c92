"""The previous plan's base on disk, so that a new process plans only what changed since (issue 17).

One SQLite file in the state directory (``<state_dir>/cache/plan-base.sqlite``, WAL mode, like the parse
cache): what the last plan was computed from and what it found, so that the next ``kgitops diff`` patches it
rather than judging every object again:

* ``meta``: one ``BaseMeta`` row: the *key* (kgitops version, ``BASE_SCHEMA``, the source id, the backend,
  the validator and plan options), the source revision (a Git commit id), the live state's change-feed
  cursors (``Backend.changes`` version tokens), the entry counts and a digest of the inventory;
* ``refs``: per object ref, the file that defines it, the file its live object says it came from, whether it
  was live, its action, and the whole ``PlanEntry`` only when it is a difference (unchanged entries are
  counted, not stored);
* ``files``: per manifest file, its blob id and how many objects it yields; ``claims``: the cross-file keys
  (object names, taskIDs) each file claims; ``owners``: the taskIDs each live object claims; ``inventory``.

A base is written only for a plan that nothing is held in (no file or object failed, the source did not fail,
no prune refused); any other plan deletes it, and the next run plans in full. Like the parse cache, the base
can only make a plan cheaper, never different: a file that cannot be opened or decoded is no base. Deleting
the file is always safe.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.cache_db import CacheDB, writing
from reconciler.model import ObjectRef
from reconciler.plan.model import PlanEntry

BASE_SCHEMA = 1  # bump when BaseMeta, PlanEntry or Resource change shape
FILE_NAME = "plan-base.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    ref TEXT PRIMARY KEY, path TEXT NOT NULL, live_path TEXT NOT NULL, live INTEGER NOT NULL,
    action TEXT NOT NULL, entry BLOB
);
CREATE INDEX IF NOT EXISTS refs_path ON refs(path);
CREATE INDEX IF NOT EXISTS refs_live_path ON refs(live_path);
CREATE INDEX IF NOT EXISTS refs_entry ON refs(ref) WHERE entry IS NOT NULL;
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, digest TEXT NOT NULL, yields INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS claims (claim TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (claim, path));
CREATE INDEX IF NOT EXISTS claims_path ON claims(path);
CREATE TABLE IF NOT EXISTS owners (claim TEXT NOT NULL, ref TEXT NOT NULL, PRIMARY KEY (claim, ref));
CREATE INDEX IF NOT EXISTS owners_ref ON owners(ref);
CREATE TABLE IF NOT EXISTS inventory (ref TEXT PRIMARY KEY);
"""
_TABLES = ("meta", "refs", "files", "claims", "owners", "inventory")


def base_path(state_dir: str | Path) -> Path:
    """Where the plan base of a state directory lives."""
    return Path(state_dir) / "cache" / FILE_NAME


def ref_key(ref: ObjectRef) -> str:
    """A ref as one text column: ``kind/namespace/name`` (none of the three holds a ``/``)."""
    return f"{ref.kind}/{ref.namespace}/{ref.name}"


def parse_ref(key: str) -> ObjectRef:
    kind, namespace, name = key.split("/", 2)
    return ObjectRef(kind, namespace, name)


def task_claim(namespace: str, task_id: str) -> str:
    """The key of a (namespace, taskID) claim, as ``claims`` and ``owners`` store it."""
    return f"task/{namespace}/{task_id}"


@dataclass(frozen=True)
class BaseMeta:
    """What a base was computed from: ``key`` (everything that must be equal for it to be reused),
    ``revision`` (the source's commit id), ``cursors`` ((kind, labels) -> ``Backend.changes`` version token),
    ``counts`` (entries per action), ``objects``/``files`` (the desired state's totals), ``inventory`` (a
    digest of the source's inventory) and ``unblocked_prunes``."""

    key: str
    revision: str
    cursors: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...]
    counts: tuple[tuple[str, int], ...]
    objects: int
    files: int
    inventory: str
    unblocked_prunes: int


@dataclass(frozen=True)
class RefRow:
    """One ref of the base: the file defining it ("" if none), the file its live object names ("" if none),
    whether it was live, its action, and its entry when it was a difference."""

    ref: ObjectRef
    path: str
    live_path: str
    live: bool
    action: str
    entry: PlanEntry | None


@dataclass
class BaseUpdate:
    """What changes in a base: rows to write, rows to delete, and the new meta."""

    meta: BaseMeta
    refs: list[RefRow] = field(default_factory=list)
    drop_refs: set[ObjectRef] = field(default_factory=set)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    drop_files: set[str] = field(default_factory=set)
    claims: dict[str, frozenset[str]] = field(default_factory=dict)  # path -> its claims (replaced)
    owners: dict[ObjectRef, frozenset[str]] = field(default_factory=dict)  # live ref -> its claims (replaced)
    inventory: set[ObjectRef] | None = None  # None: unchanged


class PlanBaseFile:
    """The persisted base; never raises on a bad file (a read that fails is no base, a write that fails is
    skipped and the file removed, so the next run plans in full)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file = CacheDB(self.path, _SCHEMA)

    @property
    def error(self) -> str:
        """Why the base was last not used or not written (a damaged file, a lock)."""
        return self.file.error

    def close(self) -> None:
        self.file.close()

    @contextmanager
    def reading(self) -> Iterator[BaseReader | None]:
        """One read snapshot of the base (None when there is none or it cannot be read)."""
        if not self.path.is_file():
            yield None
            return
        try:
            with self.file.connection() as db:
                db.execute("BEGIN")
                try:
                    row = db.execute("SELECT value FROM meta WHERE key='base'").fetchone()
                    meta = _unpickle(row[0]) if row is not None else None
                    yield BaseReader(db, meta) if isinstance(meta, BaseMeta) else None
                finally:
                    with suppress(sqlite3.Error):
                        db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self.file.discard(exc)
            raise BaseUnreadable(str(exc)) from None

    def replace(self, update: BaseUpdate) -> None:
        """Write a whole new base (after a full plan)."""
        self._write(update, None)

    def patch(self, update: BaseUpdate, expected: BaseMeta) -> bool:
        """Apply ``update`` to the base, if it is still ``expected`` (another process may have moved it on
        meanwhile: then nothing is written and False returned)."""
        return self._write(update, expected)

    def drop(self) -> None:
        """No base: the next plan is a full one."""
        if not self.path.is_file():
            return
        try:
            with self.file.connection() as db:
                db.execute("DELETE FROM meta WHERE key='base'")
        except (sqlite3.Error, OSError) as exc:
            self.file.discard(exc)

    def _write(self, u: BaseUpdate, expected: BaseMeta | None) -> bool:
        try:
            meta = pickle.dumps(u.meta, protocol=pickle.HIGHEST_PROTOCOL)
            with self.file.connection() as db, writing(db):
                if expected is None:
                    for table in _TABLES:
                        db.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table names
                else:
                    row = db.execute("SELECT value FROM meta WHERE key='base'").fetchone()
                    if row is None or _unpickle(row[0]) != expected:
                        return False  # another process moved the base on: nothing written
                _apply(db, u)
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('base', ?)", (meta,))
        except (sqlite3.Error, OSError, pickle.PicklingError) as exc:
            self.file.discard(exc)
            return False
        return True


class BaseUnreadable(Exception):
    """The base file exists but cannot be read (the plan goes the full way)."""


def _apply(db: sqlite3.Connection, u: BaseUpdate) -> None:
    drop = [(ref_key(r),) for r in u.drop_refs]
    db.executemany("DELETE FROM refs WHERE ref=?", drop)
    db.executemany(
        "INSERT OR REPLACE INTO refs(ref, path, live_path, live, action, entry) VALUES (?,?,?,?,?,?)",
        (
            (
                ref_key(r.ref),
                r.path,
                r.live_path,
                int(r.live),
                r.action,
                None if r.entry is None else pickle.dumps(r.entry, protocol=pickle.HIGHEST_PROTOCOL),
            )
            for r in u.refs
        ),
    )
    db.executemany("DELETE FROM files WHERE path=?", [(p,) for p in u.drop_files])
    db.executemany(
        "INSERT OR REPLACE INTO files(path, digest, yields) VALUES (?,?,?)",
        [(p, d, y) for p, (d, y) in u.files.items()],
    )
    db.executemany("DELETE FROM claims WHERE path=?", [(p,) for p in u.claims])
    db.executemany(
        "INSERT OR IGNORE INTO claims(claim, path) VALUES (?,?)",
        [(c, p) for p, claims in u.claims.items() for c in claims],
    )
    db.executemany("DELETE FROM owners WHERE ref=?", [(ref_key(r),) for r in u.owners])
    db.executemany(
        "INSERT OR IGNORE INTO owners(claim, ref) VALUES (?,?)",
        [(c, ref_key(r)) for r, claims in u.owners.items() for c in claims],
    )
    if u.inventory is not None:
        db.execute("DELETE FROM inventory")
        db.executemany("INSERT INTO inventory(ref) VALUES (?)", [(ref_key(r),) for r in u.inventory])


def _unpickle(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception:  # noqa: BLE001 - a damaged row is no base, whatever the unpickler says
        return None


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class BaseReader:
    """Reads of one base, inside one read snapshot (``PlanBaseFile.reading``)."""

    def __init__(self, db: sqlite3.Connection, meta: BaseMeta) -> None:
        self._db = db
        self.meta = meta

    def _rows(self, sql: str, values: Iterable[str]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for chunk in _chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            out.extend(self._db.execute(sql.format(marks), chunk).fetchall())
        return out

    def refs(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, RefRow]:
        """The rows of these refs (those the base has)."""
        sql = "SELECT ref, path, live_path, live, action, entry FROM refs WHERE ref IN ({})"
        return {row.ref: row for row in map(_ref_row, self._rows(sql, map(ref_key, refs)))}

    def live_refs(self, refs: Iterable[ObjectRef]) -> set[ObjectRef]:
        """Those of ``refs`` that were live in the base."""
        rows = self._rows("SELECT ref FROM refs WHERE live=1 AND ref IN ({})", map(ref_key, refs))
        return {parse_ref(r[0]) for r in rows}

    def refs_of_paths(self, paths: Iterable[str]) -> set[ObjectRef]:
        """Refs defined by, or whose live object came from, one of these files."""
        paths = list(paths)
        a = self._rows("SELECT ref FROM refs WHERE path IN ({})", paths)
        b = self._rows("SELECT ref FROM refs WHERE live_path IN ({})", paths)
        return {parse_ref(r[0]) for r in a + b}

    def differences(self, leave_out: set[ObjectRef]) -> dict[ObjectRef, PlanEntry]:
        """The stored entries that were differences, but for ``leave_out``; None if one cannot be read."""
        out: dict[ObjectRef, PlanEntry] = {}
        skip = {ref_key(r) for r in leave_out}
        for key, data in self._db.execute("SELECT ref, entry FROM refs WHERE entry IS NOT NULL"):
            if key in skip:
                continue
            entry = _unpickle(data)
            if not isinstance(entry, PlanEntry):
                raise BaseUnreadable(f"entry {key} cannot be read")
            out[entry.ref] = entry
        return out

    def files(self, paths: Iterable[str]) -> dict[str, tuple[str, int]]:
        """path -> (blob id, objects it yields), for those of ``paths`` the base has."""
        rows = self._rows("SELECT path, digest, yields FROM files WHERE path IN ({})", paths)
        return {r[0]: (r[1], r[2]) for r in rows}

    def paths_claiming(self, claims: Iterable[str]) -> dict[str, set[str]]:
        """claim -> the files that claim it."""
        out: dict[str, set[str]] = {}
        for claim, path in self._rows("SELECT claim, path FROM claims WHERE claim IN ({})", claims):
            out.setdefault(claim, set()).add(path)
        return out

    def claims_of(self, paths: Iterable[str]) -> set[str]:
        return {r[0] for r in self._rows("SELECT claim FROM claims WHERE path IN ({})", paths)}

    def owners(self, claims: Iterable[str]) -> dict[str, set[ObjectRef]]:
        """taskID claim -> the live objects claiming it."""
        out: dict[str, set[ObjectRef]] = {}
        for claim, ref in self._rows("SELECT claim, ref FROM owners WHERE claim IN ({})", claims):
            out.setdefault(claim, set()).add(parse_ref(ref))
        return out

    def owned_by(self, refs: Iterable[ObjectRef]) -> set[str]:
        """The taskID claims of these live objects."""
        return {r[0] for r in self._rows("SELECT claim FROM owners WHERE ref IN ({})", map(ref_key, refs))}

    def inventory(self) -> set[ObjectRef]:
        return {parse_ref(r[0]) for r in self._db.execute("SELECT ref FROM inventory")}

    def inventory_strays(self) -> set[ObjectRef]:
        """Refs whose inventory membership a sync would change without a difference entry: inventoried
        refs with no entry (a sync drops them), and plain unchanged entries not inventoried (a sync adds
        them; ``reconciler.apply.sync``). Usually none."""
        rows = self._db.execute(
            "SELECT ref FROM inventory WHERE ref NOT IN (SELECT ref FROM refs) UNION "
            "SELECT ref FROM refs WHERE action='unchanged' AND entry IS NULL "
            "AND ref NOT IN (SELECT ref FROM inventory)"
        ).fetchall()
        return {parse_ref(r[0]) for r in rows}


def _ref_row(row: tuple[Any, ...]) -> RefRow:
    key, path, live_path, live, action, data = row
    entry = None
    if data is not None:
        entry = _unpickle(data)
        if not isinstance(entry, PlanEntry):
            raise BaseUnreadable(f"entry {key} cannot be read")
    return RefRow(parse_ref(key), path, live_path, bool(live), action, entry)


def counts_of(rows: Mapping[ObjectRef, str]) -> dict[str, int]:
    """Entries per action of ``ref -> action``."""
    out: dict[str, int] = {}
    for action in rows.values():
        out[action] = out.get(action, 0) + 1
    return out
