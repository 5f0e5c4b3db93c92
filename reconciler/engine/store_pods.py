"""The store's pods: one row per local process ("pod" container) of a task party, as the process runtime
(``engine/runtime/process.py``) tracks it; every write moves the store's revision (``meta.rv``), so the
driver notices."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from reconciler.engine.sqlite_db import SQLiteDB

if TYPE_CHECKING:  # the rows' dataclass: loaded by the runtime that reads pods, not by a read of jobs
    from reconciler.engine.pod_record import PodRecord

POD_SCHEMA = """
CREATE TABLE IF NOT EXISTS pods (
    task TEXT NOT NULL, task_uid TEXT NOT NULL, pod TEXT NOT NULL, domain TEXT NOT NULL,
    replica INTEGER NOT NULL, dir TEXT NOT NULL, state TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0, start_ticks INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER, message TEXT NOT NULL DEFAULT '', term_at REAL NOT NULL DEFAULT 0,
    started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (task, pod)
);
"""


class PodTable(SQLiteDB):
    """The ``pods`` table of the store (``reconciler.engine.store.Store``)."""

    def pods(self, task: str | None = None, live_only: bool = False) -> builtins.list[PodRecord]:
        sql = "SELECT * FROM pods"
        args: list[Any] = []
        cond = []
        if task is not None:
            cond.append("task=?")
            args.append(task)
        if live_only:
            cond.append("state IN ('created', 'running', 'terminating')")
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        sql += " ORDER BY task, domain, replica"
        from reconciler.engine.pod_record import PodRecord

        return [
            PodRecord(**{k: r[k] for k in r.keys()})  # noqa: SIM118 - sqlite3.Row
            for r in self._query(sql, args)
        ]

    def put_pod(self, pod: PodRecord) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO pods(task, task_uid, pod, domain, replica, dir, state, pid,"
                " start_ticks, exit_code, message, term_at, started, finished)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pod.task,
                    pod.task_uid,
                    pod.pod,
                    pod.domain,
                    pod.replica,
                    pod.dir,
                    pod.state,
                    pod.pid,
                    pod.start_ticks,
                    pod.exit_code,
                    pod.message,
                    pod.term_at,
                    pod.started,
                    pod.finished,
                ),
            )
            self._next("rv")

    def delete_pods(self, task: str, task_uid: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM pods WHERE task=? AND task_uid=?", (task, task_uid))

    def has_live_pods(self) -> bool:
        """Whether any pod is created, running or terminating (one row read at most)."""
        sql = "SELECT 1 FROM pods WHERE state IN ('created', 'running', 'terminating') LIMIT 1"
        return bool(self._query(sql))
