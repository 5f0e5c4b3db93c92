"""The engine's state: KusciaJob, KusciaTask and AppImage objects, pods and inventories in one SQLite file.

This module holds the objects (and the AppImage content each job pins); the pods (``store_pods``), the
inventories (``store_inventory``) and the change log (``changelog``, ``Store.feed``) share its connection
and transactions (``sqlite_db``: WAL, one ``with store.transaction():`` per state transition, so a kill -9
leaves either the old or the new state, never half of one).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.engine import changelog
from reconciler.engine.changelog import ChangeLog
from reconciler.engine.store_inventory import INVENTORY_SCHEMA, InventoryTable
from reconciler.engine.store_pods import POD_SCHEMA, PodTable
from reconciler.kuscia.labels import ANNOTATION_TASK_ALIAS
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import APP_IMAGE, KUSCIA_TASK

if TYPE_CHECKING:  # AppImage pins are written and read by the engine, never by a read-only `job list`
    from reconciler.engine.pins import PinnedAppImage

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, rv INTEGER NOT NULL, created TEXT NOT NULL, seq INTEGER NOT NULL,
    api_version TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL,
    spec TEXT NOT NULL, status TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX IF NOT EXISTS objects_owner ON objects(owner);
CREATE TABLE IF NOT EXISTS appimage_pins (
    owner TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, spec TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
"""

DB_NAME = "engine.db"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreError(Exception):
    pass


class Store(PodTable, InventoryTable):
    """Thread-compatible SQLite store; one connection per Store object (``sqlite_db.SQLiteDB``)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, SCHEMA + POD_SCHEMA + INVENTORY_SCHEMA, changelog.install, changelog.SCHEMA)
        self.feed = ChangeLog(self._db, self._lock, self.transaction, self._row)

    @classmethod
    def open(cls, state_dir: str | Path) -> Store:
        return cls(Path(state_dir) / DB_NAME)

    # -- objects ------------------------------------------------------------------------
    @staticmethod
    def _row(row: sqlite3.Row) -> Resource:
        return Resource(
            kind=row["kind"],
            name=row["name"],
            namespace=row["namespace"],
            api_version=row["api_version"],
            labels=json.loads(row["labels"]),
            annotations=json.loads(row["annotations"]),
            spec=json.loads(row["spec"]),
            status=json.loads(row["status"]),
            resource_version=str(row["rv"]),
            uid=row["uid"],
            creation_timestamp=row["created"],
        )

    def get(self, ref: ObjectRef) -> Resource | None:
        rows = self._query(
            "SELECT * FROM objects WHERE kind=? AND namespace=? AND name=?",
            (ref.kind, ref.namespace, ref.name),
        )
        return self._row(rows[0]) if rows else None

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        owner: str | None = None,
        order: str = "name",
        where: str = "",
    ) -> builtins.list[Resource]:
        """``where`` is an extra SQL condition written by the engine itself (never user input)."""
        sql = "SELECT * FROM objects WHERE kind=?"
        args: list[Any] = [kind]
        if where:
            sql += f" AND ({where})"
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        if owner is not None:
            sql += " AND owner=?"
            args.append(owner)
        sql += " ORDER BY " + ("seq" if order == "created" else "name")
        out = [self._row(r) for r in self._query(sql, args)]
        if labels:
            out = [o for o in out if all(o.labels.get(k) == v for k, v in labels.items())]
        return out

    def create(self, obj: Resource, owner: str = "", inventory: str = "") -> Resource:
        """Insert; returns the stored object (uid, resource version, creation time filled in). With
        ``inventory`` (a source id) the object joins that source's inventory in the same transaction."""
        with self.transaction():
            if self.get(obj.ref) is not None:
                raise StoreError(f"{obj.ref} already exists")
            if inventory:
                self.update_inventory(inventory, add={obj.ref})
            rv = self._next("rv")
            seq = self._next("seq")
            uid = obj.uid or str(uuid.uuid4())
            created = obj.creation_timestamp or utc_now()
            self._db.execute(
                "INSERT INTO objects(kind, namespace, name, uid, rv, created, seq, api_version, labels,"
                " annotations, spec, status, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    obj.kind,
                    obj.namespace,
                    obj.name,
                    uid,
                    rv,
                    created,
                    seq,
                    obj.api_version,
                    json.dumps(obj.labels),
                    json.dumps(obj.annotations),
                    json.dumps(obj.spec),
                    json.dumps(obj.status),
                    owner,
                ),
            )
            stored = self.get(obj.ref)
            assert stored is not None
            if not owner:  # a job, or a task no job owns: what it will run is fixed now
                from reconciler.engine.pins import appimages_of

                for name in appimages_of(stored):
                    self.pin_appimage(stored.uid, name)
        return stored

    def put(self, obj: Resource, expect_rv: str | None = None) -> Resource:
        """Replace labels, annotations, spec and status; ``expect_rv`` guards against lost updates."""
        with self.transaction():
            current = self.get(obj.ref)
            if current is None:
                raise StoreError(f"{obj.ref} does not exist")
            if expect_rv is not None and current.resource_version != expect_rv:
                raise StoreError(f"{obj.ref} changed (resource version {current.resource_version})")
            rv = self._next("rv")
            self._db.execute(
                "UPDATE objects SET rv=?, labels=?, annotations=?, spec=?, status=?"
                " WHERE kind=? AND namespace=? AND name=?",
                (
                    rv,
                    json.dumps(obj.labels),
                    json.dumps(obj.annotations),
                    json.dumps(obj.spec),
                    json.dumps(obj.status),
                    obj.kind,
                    obj.namespace,
                    obj.name,
                ),
            )
        obj.resource_version = str(rv)
        return obj

    def delete(self, ref: ObjectRef) -> bool:
        """Delete an object (its AppImage pins with it) and log the deletion (``feed``,
        ``engine/changelog.py``) at the next revision; False if it did not exist."""
        with self.transaction():
            row = self._db.execute(
                "SELECT uid, owner FROM objects WHERE kind=? AND namespace=? AND name=?",
                (ref.kind, ref.namespace, ref.name),
            ).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM appimage_pins WHERE owner=?", (row[0],))
            self._db.execute(
                "DELETE FROM objects WHERE kind=? AND namespace=? AND name=?",
                (ref.kind, ref.namespace, ref.name),
            )
            self.feed.record_deletion(ref, str(row[0]), str(row[1]), self._next("rv"))
            return True

    def refs(self, kind: str, where: str = "", order: str = "seq") -> builtins.list[ObjectRef]:
        """Just the identities (no JSON decoding): what a controller pass iterates over."""
        sql = "SELECT kind, namespace, name FROM objects WHERE kind=?"
        if where:
            sql += f" AND ({where})"
        return [ObjectRef(r[0], r[1], r[2]) for r in self._query(sql + f" ORDER BY {order}", (kind,))]

    def watch_list(self) -> builtins.list[tuple[ObjectRef, str, bool]]:
        """Unfinished tasks as (ref, uid, launched-and-active): the task controller's work list."""
        rows = self._query(
            "SELECT namespace, name, uid, json_extract(status, '$.startTime') IS NOT NULL"
            " AND json_extract(status, '$.phase') IN ('Pending', 'Running') FROM objects"
            " WHERE kind=? AND json_extract(status, '$.completionTime') IS NULL ORDER BY seq",
            (KUSCIA_TASK,),
        )
        return [(ObjectRef(KUSCIA_TASK, r[0], r[1]), str(r[2]), bool(r[3])) for r in rows]

    def task_index(self, owner: str) -> builtins.list[tuple[str, str, str]]:
        """(name, alias, phase) of the tasks a job owns, in creation order, without decoding them."""
        rows = self._query(
            f"SELECT name, json_extract(annotations, '$.\"{ANNOTATION_TASK_ALIAS}\"'),"
            " json_extract(status, '$.phase') FROM objects WHERE kind=? AND owner=? ORDER BY seq",
            (KUSCIA_TASK, owner),
        )
        return [(str(r[0]), str(r[1] or ""), str(r[2] or "")) for r in rows]

    def uids(self, kind: str) -> dict[str, str]:
        """name → uid of every object of a kind (all namespaces; names of tasks are unique in practice)."""
        return {r[0]: r[1] for r in self._query("SELECT name, uid FROM objects WHERE kind=?", (kind,))}

    # -- AppImages pinned per job ------------------------------------------------------------
    def pin_appimage(self, owner: str, name: str) -> PinnedAppImage | None:
        """The AppImage ``name`` as ``owner`` (a job's or a standalone task's uid) runs it: pinned on first
        call to the AppImage's content at that moment, the same content ever after (None while it does not
        exist)."""
        with self.transaction():
            pinned = self.pinned_appimage(owner, name)
            if pinned is not None:
                return pinned
            current = self.get(ObjectRef.of(APP_IMAGE, name))
            if current is None:
                return None
            from reconciler.engine.pins import PinnedAppImage, spec_digest

            digest = spec_digest(current.spec)
            self._db.execute(
                "INSERT INTO appimage_pins(owner, name, digest, spec) VALUES (?,?,?,?)",
                (owner, name, digest, json.dumps(current.spec)),
            )
            return PinnedAppImage(name, digest, current.spec)

    def pinned_appimage(self, owner: str, name: str) -> PinnedAppImage | None:
        from reconciler.engine.pins import PinnedAppImage

        rows = self._query("SELECT digest, spec FROM appimage_pins WHERE owner=? AND name=?", (owner, name))
        return PinnedAppImage(name, str(rows[0][0]), json.loads(rows[0][1])) if rows else None

    def pins(self, owner: str) -> builtins.list[PinnedAppImage]:
        from reconciler.engine.pins import PinnedAppImage

        sql = "SELECT name, digest, spec FROM appimage_pins WHERE owner=? ORDER BY name"
        rows = self._query(sql, (owner,))
        return [PinnedAppImage(str(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    # -- for the event-driven driver (the change log itself: ``self.feed``, engine/changelog.py) ---------
    def exists(self, kind: str, where: str = "") -> bool:
        """Whether some object of a kind matches ``where`` (SQL written by the engine, never user input)."""
        sql = "SELECT 1 FROM objects WHERE kind=?" + (f" AND ({where})" if where else "") + " LIMIT 1"
        return bool(self._query(sql, (kind,)))

