"""The text of ``kgitops job show`` and ``kgitops task show``: one block of facts, then per-party and
per-task tables, so a user sees at a glance what ran, where, and why something never ran."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from reconciler.output.printable import printable
from reconciler.render.table import colour_phase, format_local, render_table
from reconciler.views import JobInfo, TaskInfo


def _facts(pairs: list[tuple[str, str]], colour: bool = False) -> list[str]:
    """``Key:   value`` lines of the non-empty values, each ``printable``; the ``Phase`` coloured."""
    width = max(len(k) for k, _ in pairs) + 2
    return [
        f"{(k + ':').ljust(width)}{colour_phase(v) if colour and k == 'Phase' else printable(v)}"
        for k, v in pairs
        if v
    ]


def _kv(d: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def job_detail(
    job: JobInfo,
    colour: bool = False,
    tz: tzinfo | None = None,
    git_approvals: Sequence[str] = (),
    annotations: Mapping[str, str] | None = None,
) -> str:
    """``job show``: the job's facts, its parties, ``git_approvals`` and every task of its spec.
    ``git_approvals`` and ``annotations`` (the job's, less those ``git_approvals`` shows; default: all) come
    from ``reconciler.sdk.git_approvals``."""
    phase = job.phase
    lines = _facts(
        [
            ("Job", f"{job.name}"),
            ("Namespace", job.namespace),
            ("Phase", phase),
            ("Reason", job.reason),
            ("Message", job.message),
            ("Initiator", job.initiator),
            ("Schedule", f"{job.schedule_mode}, maxParallelism {job.max_parallelism}"),
            ("Priority", job.priority),
            ("Labels", _kv(job.labels)),
            ("Annotations", _kv(dict(job.annotations if annotations is None else annotations))),
            ("Accepted", format_local(job.accept_time, tz)),
            ("Started", format_local(job.start_time, tz)),
            ("Finished", format_local(job.finish_time, tz)),
            ("Last reconcile", format_local(job.last_reconcile_time, tz)),
        ],
        colour,
    )
    if job.parties:
        lines.append("Parties:")
        rows = [[p.domain_id, p.approval, p.stage] for p in job.parties]
        lines.append(render_table(("DOMAIN", "APPROVAL", "STAGE"), rows, indent="  "))
        if git_approvals:
            lines.append("Approvals in Git:")
            lines.extend(f"  {printable(line)}" for line in git_approvals)
    lines.append("Tasks:")
    if job.tasks:
        rows = []
        for t in job.tasks:
            rows.append(
                [
                    t.alias,
                    t.name,
                    t.phase.value,
                    ",".join(p.domain_id for p in t.parties),
                    ",".join(t.dependencies),
                    format_local(t.start_time, tz),
                    format_local(t.completion_time, tz),
                    t.reason or t.message,
                ]
            )
        headers = ("ALIAS", "TASK ID", "PHASE", "PARTIES", "NEEDS", "STARTED", "FINISHED", "REASON")
        lines.append(render_table(headers, rows, 2, colour, indent="  "))
        endpoint_lines = [
            printable(f"  {t.alias} {p.domain_id}: {e.port_name} {e.endpoint}")
            + (printable(f" ({e.scope})") if e.scope else "")
            for t in job.tasks
            for p in t.parties
            for e in p.endpoints
        ]
        if endpoint_lines:
            lines.append("Endpoints:")
            lines.extend(endpoint_lines)
    else:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def task_detail(task: TaskInfo, colour: bool = False, tz: tzinfo | None = None) -> str:
    phase = task.phase.value
    progress = "" if task.progress is None else f"{task.progress:.0%}"
    lines = _facts(
        [
            ("Task", task.name or f"({task.alias}: not created)"),
            ("Job", task.job),
            ("Alias", task.alias),
            ("Namespace", task.namespace),
            ("Phase", phase),
            ("Reason", task.reason),
            ("Message", task.message),
            ("Progress", progress),
            ("App image", task.app_image),
            ("Needs", ", ".join(task.dependencies)),
            ("Tolerable", "yes" if task.tolerable else ""),
            ("Started", format_local(task.start_time, tz)),
            ("Finished", format_local(task.completion_time, tz)),
            ("Last reconcile", format_local(task.last_reconcile_time, tz)),
        ],
        colour,
    )
    if task.parties:
        lines.append("Parties:")
        rows = [
            [
                p.domain_id,
                p.role,
                p.phase,
                " ".join(f"{e.port_name}={e.endpoint}" for e in p.endpoints),
                p.message,
            ]
            for p in task.parties
        ]
        lines.append(render_table(("DOMAIN", "ROLE", "PHASE", "ENDPOINTS", "MESSAGE"), rows, 2, colour, "  "))
    if task.conditions:
        lines.append("Conditions:")
        rows = [
            [
                str(c.get("type", "")),
                str(c.get("status", "")),
                str(c.get("reason", "")),
                str(c.get("lastTransitionTime", "")),
                str(c.get("message", "")),
            ]
            for c in task.conditions
        ]
        lines.append(render_table(("TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"), rows, indent="  "))
    return "\n".join(lines) + "\n"
