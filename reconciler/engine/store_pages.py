"""Reading one page of jobs (or tasks) from the engine's store without decoding the others (keyset
pagination).

The ``objects`` table's primary key (kind, namespace, name) is the index on the sort key: a page is
``WHERE kind=? AND namespace=? AND name > :after ... ORDER BY name LIMIT n+1``, an index range scan that
stops after n+1 matching rows; the filters on phase, initiator and labels are SQL on the same rows, and
only the n jobs of the page are decoded from JSON. A filter on one phase reads the index on the phase
(``INDEXES``) instead, so it never reads the jobs of other phases. ``after`` is the last name of the
previous page, so a page continues correctly when that job was deleted, and jobs created meanwhile appear
in their place. Tasks are paged the same way (``task_page``), filtered by their phase as shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.store import Store
from reconciler.model import Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.model.phases import KUSCIA_INITIALIZED, JobPhase, TaskPhase

JOB_KIND = KUSCIA_JOB
TASK_KIND = KUSCIA_TASK
# The job's phase in our spelling (views.job_phase_of): Kuscia's "" and "initialized" read as Initialized.
# The text is part of the index objects_job_phase (INDEXES): a query uses the index only with the same text.
PHASE_SQL = (
    f"CASE WHEN lower(coalesce(json_extract(status, '$.phase'), '')) IN ('', '{KUSCIA_INITIALIZED}')"
    f" THEN '{JobPhase.INITIALIZED}' ELSE json_extract(status, '$.phase') END"
)
TIMES_SQL = (
    "json_extract(status, '$.startTime'), json_extract(status, '$.completionTime'),"
    " json_extract(status, '$.lastReconcileTime'), created"
)
# A task's phase as shown (views.task_phase_of): Kuscia's four phases as they are, anything else Pending.
TASK_PHASE_SQL = (
    "CASE WHEN json_extract(status, '$.phase') IN ("
    + ",".join(f"'{p.value}'" for p in TaskPhase)
    + f") THEN json_extract(status, '$.phase') ELSE '{TaskPhase.PENDING.value}' END"
)
SCAN_CHUNK = 500  # the most rows read at a time while a filter on times is checked outside SQL
INDEXES = {
    # one phase asked for: the jobs of that phase in name order, without reading the others
    "objects_job_phase": f"ON objects(kind, namespace, {PHASE_SQL}, name)",
    # the same for tasks
    "objects_task_phase": f"ON objects(kind, namespace, {TASK_PHASE_SQL}, name)",
}


def ensure_indexes(store: Store) -> None:
    """Create the indexes the page queries use (once per store file; on 10,000 jobs about 0.2 s). A file that
    has them is left alone without a write transaction, so opening never queues behind a writer."""
    present = {str(r[0]) for r in store._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    if present >= INDEXES.keys():
        return
    with store.transaction():
        for name, definition in INDEXES.items():
            store._db.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")

TimesFilter = Callable[[Any, Any, Any, Any], bool]
"""(startTime, completionTime, lastReconcileTime, creationTimestamp) as stored → keep the job."""


@dataclass(frozen=True)
class JobSelection:
    """The filters SQL applies: phases in our spelling, ``spec.initiator``, labels (all must match)."""

    phases: frozenset[str] = frozenset()
    initiator: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def where(self) -> tuple[str, list[Any]]:
        sql = ""
        args: list[Any] = []
        if self.phases:
            sql += f" AND {PHASE_SQL} IN ({','.join('?' * len(self.phases))})"
            args.extend(sorted(self.phases))
        if self.initiator:
            sql += " AND json_extract(spec, '$.initiator') = ?"
            args.append(self.initiator)
        for key, value in sorted(self.labels.items()):
            if '"' in key or "\\" in key:  # not a label key (Kubernetes' syntax): nothing carries it
                return " AND 0", []
            sql += " AND json_extract(labels, ?) = ?"
            args.extend([f'$."{key}"', value])
        return sql, args


def page_sql(selection: JobSelection) -> tuple[str, list[Any]]:
    """The page query without its leading (namespace, after) and trailing (limit) arguments."""
    where, args = selection.where()
    sql = f"SELECT * FROM objects WHERE kind='{JOB_KIND}' AND namespace=? AND name > ?{where}"
    sql += " ORDER BY name LIMIT ?"
    return sql, args


def job_page(
    store: Store,
    namespace: str,
    after: str,
    limit: int,
    selection: JobSelection,
    times: TimesFilter | None = None,
) -> tuple[list[Resource], bool]:
    """Up to ``limit`` jobs named after ``after`` that pass ``selection`` (and ``times``, checked on the
    raw time fields without decoding the job), in name order; and whether more follow."""
    if times is None:
        sql, args = page_sql(selection)
        rows = store._query(sql, [namespace, after, *args, limit + 1])
        return [Store._row(r) for r in rows[:limit]], len(rows) > limit
    where, args = selection.where()
    scan = (
        f"SELECT name, {TIMES_SQL} FROM objects WHERE kind='{JOB_KIND}' AND namespace=? AND name > ?{where}"
        " ORDER BY name LIMIT ?"
    )
    names: list[str] = []
    cursor = after
    chunk = limit + 1  # as many as the page needs if every row matches; twice as many each time after
    while len(names) <= limit:
        rows = store._query(scan, [namespace, cursor, *args, chunk])
        names.extend(r[0] for r in rows if times(r[1], r[2], r[3], r[4]))
        if len(rows) < chunk:
            break
        cursor = rows[-1][0]
        chunk = min(chunk * 2, SCAN_CHUNK)
    more = len(names) > limit
    return _jobs_named(store, namespace, names[:limit]), more


def _jobs_named(store: Store, namespace: str, names: Sequence[str]) -> list[Resource]:
    out: list[Resource] = []
    for start in range(0, len(names), SCAN_CHUNK):  # under SQLite's 999 variables of old versions
        chunk = names[start : start + SCAN_CHUNK]
        rows = store._query(
            f"SELECT * FROM objects WHERE kind='{JOB_KIND}' AND namespace=? AND name IN"
            f" ({','.join('?' * len(chunk))}) ORDER BY name",
            [namespace, *chunk],
        )
        out.extend(Store._row(r) for r in rows)
    return out


def job_names(store: Store, namespace: str) -> list[str]:
    """Every job name of the namespace, read from the primary key's index alone (no row is decoded)."""
    return _names(store, JOB_KIND, namespace)


def task_page_sql(phases: frozenset[str]) -> tuple[str, list[Any]]:
    """The task page query without its leading (namespace, after) and trailing (limit) arguments."""
    where = f" AND {TASK_PHASE_SQL} IN ({','.join('?' * len(phases))})" if phases else ""
    sql = f"SELECT * FROM objects WHERE kind='{TASK_KIND}' AND namespace=? AND name > ?{where}"
    return sql + " ORDER BY name LIMIT ?", sorted(phases)


def task_page(
    store: Store, namespace: str, after: str, limit: int, phases: frozenset[str] = frozenset()
) -> tuple[list[Resource], bool]:
    """Up to ``limit`` tasks named after ``after`` whose phase as shown is one of ``phases`` (any, if
    empty), in name order, only those decoded; and whether more follow. One index range: the primary key's,
    or with one phase the index on the phase (``INDEXES``)."""
    sql, args = task_page_sql(phases)
    rows = store._query(sql, [namespace, after, *args, limit + 1])
    return [Store._row(r) for r in rows[:limit]], len(rows) > limit


def task_names(store: Store, namespace: str) -> list[str]:
    """Every task name of the namespace, read from the primary key's index alone (no row is decoded)."""
    return _names(store, TASK_KIND, namespace)


def _names(store: Store, kind: str, namespace: str) -> list[str]:
    sql = "SELECT name FROM objects WHERE kind=? AND namespace=? ORDER BY name"
    rows = store._query(sql, [kind, namespace])
    return [r[0] for r in rows]
