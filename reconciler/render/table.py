"""Tables and field lists for ``kgitops job`` and ``kgitops task``: pure functions from views to text.

Times are shown in local time (``YYYY-MM-DD HH:MM:SS``, as PaddleFlow does) in job tables and as ages
(``7s``, ``5m``, ``3h``, ``2d``, as ``kubectl get kt`` does) in task tables. Colour is ANSI, applied after
alignment so that columns line up with and without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple

from reconciler.model.phases import JobPhase
from reconciler.output.printable import printable

if TYPE_CHECKING:
    from reconciler.views import JobInfo, JobSummary, TaskInfo

    JobRow = JobInfo | JobSummary  # a table shows either: the fields it reads are the same

EMPTY = "-"

# phase -> ANSI colour code: a job's phases (a task's are among them), and the two states of views.TaskState
# that are not Kuscia's, spelt here as views.types is not loaded by ``kgitops job list``
PHASE_COLOURS: dict[str, str] = {
    JobPhase.SUCCEEDED: "32",  # green
    JobPhase.RUNNING: "34",  # blue
    JobPhase.PENDING: "33",  # yellow
    JobPhase.AWAITING_APPROVAL: "33",
    JobPhase.INITIALIZED: "36",  # cyan
    JobPhase.SUSPENDED: "35",  # magenta
    JobPhase.FAILED: "31",  # red
    JobPhase.APPROVAL_REJECT: "31",
    "Blocked": "31;2",  # dim red
    JobPhase.CANCELLED: "90",  # grey
    "NotCreated": "90",
}


def colour_phase(phase: str, text: str | None = None) -> str:
    """``text`` (default: the phase itself), ``printable``, in the phase's colour."""
    code = PHASE_COLOURS.get(phase)
    text = printable(phase if text is None else text)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def format_local(value: datetime | None, tz: tzinfo | None = None) -> str:
    """An aware datetime in local time (or ``tz``), to the second; "" when unset."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def format_age(value: datetime | None, now: datetime) -> str:
    """kubectl's short age: 42s, 5m, 3h, 2d (``<unknown>`` in kubectl; "" here) for an unset time."""
    if value is None:
        return ""
    return format_seconds(int((now - value).total_seconds()))


def format_seconds(seconds: int) -> str:
    """An age in seconds as kubectl shows it: 42s, 5m, 3h, 2d (to 119s, 119m and 47h, then the next unit)."""
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def cell_len(text: str) -> int:
    """Display width in terminal columns, as ``rich.cells.cell_len`` counts it (a CJK character takes two,
    a control character none). Printable ASCII is one column a character, so rich is loaded only for text
    beyond it: a table of ASCII names costs no rich import."""
    if text.isascii() and text.isprintable():
        return len(text)
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    phase_column: int | None = None,
    colour: bool = False,
    indent: str = "",
) -> str:
    """Left-aligned columns separated by three spaces; an empty cell shows as ``-``. Widths are display
    widths (``rich.cells.cell_len``): a CJK character takes two columns, so Chinese names line up. Every
    cell is ``printable`` (``reconciler.output.printable``): a name or message holding a line break or an
    escape sequence stays in its cell, escaped."""
    cells = [[printable(c) if c else EMPTY for c in row] for row in rows]
    headers = [printable(h) for h in headers]
    widths = [cell_len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], cell_len(c))
    lines = [indent + "   ".join(_pad(h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        parts = []
        for i, c in enumerate(row):
            padded = _pad(c, widths[i]) if i < len(row) - 1 else c
            if colour and i == phase_column:
                padded = colour_phase(c, padded)
            parts.append(padded)
        lines.append(indent + "   ".join(parts).rstrip())
    return "\n".join(lines)


# -- job fields (seed 004's field list, where it applies to Kuscia) -----------------------------------


class Field(NamedTuple):
    """A ``--fields`` column: its header, its text in a table (local time; of a ``JobInfo`` or a
    ``JobSummary``) and its value in JSON/YAML (of a ``JobInfo``). A named tuple, not a frozen dataclass: it
    is made when ``kgitops job list`` starts, and a frozen dataclass compiles six methods (about 0.5 ms)."""

    header: str
    text: Callable[[JobRow, tzinfo | None], str]
    value: Callable[[JobInfo], Any]


def _kv(d: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(d.items()))


def _tasks_summary(job: JobRow) -> str:
    return f"{job.tasks_succeeded}/{job.tasks_total}"


def _time_field(header: str, attr: str) -> Field:
    def text(j: JobRow, tz: tzinfo | None) -> str:
        return format_local(getattr(j, attr), tz)

    def value(j: JobInfo) -> Any:
        return j.to_dict()[_camel(attr)]

    return Field(header, text, value)


def _camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(r.capitalize() for r in rest)


def _simple(header: str, get: Callable[[JobRow], Any]) -> Field:
    def text(j: JobRow, tz: tzinfo | None) -> str:
        v = get(j)
        if isinstance(v, dict):
            return _kv(v)
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return "" if v is None else str(v)

    return Field(header, text, get)


JOB_FIELDS: dict[str, Field] = {
    "id": _simple("JOB ID", lambda j: j.name),
    "name": _simple("NAME", lambda j: j.name),
    "namespace": _simple("NAMESPACE", lambda j: j.namespace),
    "status": _simple("STATUS", lambda j: j.phase),
    "reason": _simple("REASON", lambda j: j.reason),
    "message": _simple("MESSAGE", lambda j: j.message),
    "user": _simple("USER", lambda j: j.initiator),
    "initiator": _simple("INITIATOR", lambda j: j.initiator),
    "priority": _simple("PRIORITY", lambda j: j.priority),
    "scheduleMode": _simple("MODE", lambda j: j.schedule_mode),
    "maxParallelism": _simple("PARALLELISM", lambda j: j.max_parallelism),
    "tasks": _simple("TASKS", _tasks_summary),
    "parties": _simple("PARTIES", lambda j: list(j.party_domains)),
    "labels": _simple("LABELS", lambda j: dict(j.labels)),
    "annotations": _simple("ANNOTATIONS", lambda j: dict(j.annotations)),
    "acceptTime": _time_field("ACCEPT TIME", "accept_time"),
    "startTime": _time_field("START TIME", "start_time"),
    "finishTime": _time_field("FINISH TIME", "finish_time"),
    "lastReconcileTime": _time_field("LAST RECONCILE", "last_reconcile_time"),
}

DEFAULT_JOB_FIELDS = ("id", "status", "initiator", "tasks", "acceptTime", "startTime", "finishTime")
WIDE_JOB_FIELDS = (
    "id",
    "status",
    "initiator",
    "parties",
    "tasks",
    "scheduleMode",
    "priority",
    "acceptTime",
    "startTime",
    "finishTime",
    "reason",
    "message",
)


class FieldError(ValueError):
    pass


def parse_fields(spec: str | None, default: Sequence[str] = DEFAULT_JOB_FIELDS) -> list[str]:
    """``id,name,status`` → the list; an unknown name is an error that lists the known ones."""
    if not spec:
        return list(default)
    names = [f.strip() for f in spec.split(",") if f.strip()]
    lower = {k.lower(): k for k in JOB_FIELDS}
    result = []
    for n in names:
        key = lower.get(n.lower())
        if key is None:
            raise FieldError(f"unknown field `{n}`; known fields: {', '.join(JOB_FIELDS)}")
        result.append(key)
    if not result:
        raise FieldError(f"--fields is empty; known fields: {', '.join(JOB_FIELDS)}")
    return result


def job_table(
    jobs: Sequence[JobInfo] | Sequence[JobSummary],
    fields: Sequence[str],
    colour: bool = False,
    tz: tzinfo | None = None,
) -> str:
    headers = [JOB_FIELDS[f].header for f in fields]
    rows = [[JOB_FIELDS[f].text(j, tz) for f in fields] for j in jobs]
    phase_col = list(fields).index("status") if "status" in fields else None
    return render_table(headers, rows, phase_col, colour)


def job_fields_dict(job: JobInfo, fields: Sequence[str]) -> dict[str, Any]:
    """The chosen fields as data, for ``-o json|yaml --fields``."""
    return {f: JOB_FIELDS[f].value(job) for f in fields}


# -- tasks ----------------------------------------------------------------------------------------------

TASK_HEADERS = ("NAME", "STARTTIME", "COMPLETIONTIME", "LASTRECONCILETIME", "PHASE")
TASK_WIDE_HEADERS = (*TASK_HEADERS, "JOB", "ALIAS", "PARTIES", "REASON")


def task_table(tasks: Sequence[TaskInfo], now: datetime, wide: bool = False, colour: bool = False) -> str:
    """``kubectl get kt`` columns (ages), plus job, alias, parties and reason when wide."""
    rows = []
    for t in tasks:
        row = [
            t.name or f"({t.alias})",
            format_age(t.start_time, now),
            format_age(t.completion_time, now),
            format_age(t.last_reconcile_time, now),
            t.phase.value,
        ]
        if wide:
            parties = ",".join(f"{p.domain_id}:{p.phase}" if p.phase else p.domain_id for p in t.parties)
            row += [t.job, t.alias, parties, t.reason]
        rows.append(row)
    return render_table(TASK_WIDE_HEADERS if wide else TASK_HEADERS, rows, 4, colour)
