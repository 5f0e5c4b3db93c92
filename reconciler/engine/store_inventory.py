"""The store's inventories: per source (a Git repository and path, a directory), the refs of the objects it
manages, so a sync prunes only what it created itself."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from reconciler.engine.sqlite_db import SQLiteDB
from reconciler.model import ObjectRef

INVENTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS inventory (
    source TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (source, kind, namespace, name)
);
"""


class InventoryTable(SQLiteDB):
    """The ``inventory`` table of the store (``reconciler.engine.store.Store``)."""

    def get_inventory(self, source: str) -> set[ObjectRef]:
        rows = self._query("SELECT kind, namespace, name FROM inventory WHERE source=?", (source,))
        return {ObjectRef(r[0], r[1], r[2]) for r in rows}

    def set_inventory(self, source: str, refs: set[ObjectRef]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM inventory WHERE source=?", (source,))
            self._db.executemany(
                "INSERT INTO inventory(source, kind, namespace, name) VALUES (?,?,?,?)",
                [(source, r.kind, r.namespace, r.name) for r in sorted(refs)],
            )

    def update_inventory(
        self,
        source: str,
        add: AbstractSet[ObjectRef] = frozenset(),
        remove: AbstractSet[ObjectRef] = frozenset(),
    ) -> None:
        """Add and remove entries in one transaction; every other entry stays."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO inventory(source, kind, namespace, name) VALUES (?,?,?,?)",
                [(source, r.kind, r.namespace, r.name) for r in sorted(add)],
            )
            self._db.executemany(
                "DELETE FROM inventory WHERE source=? AND kind=? AND namespace=? AND name=?",
                [(source, r.kind, r.namespace, r.name) for r in sorted(remove)],
            )
