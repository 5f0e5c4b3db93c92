"""A KusciaJob's task graph: aliases, taskIDs, dependencies, cycles and tolerable tasks (§6, §12 D2/D3)."""

from __future__ import annotations

from typing import Any

from reconciler.model.objects import KUSCIA_TASK
from reconciler.validate import names
from reconciler.validate.schema import Issue


def _tasks(spec: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    tasks = spec.get("tasks")
    if not isinstance(tasks, list):
        return []
    return [(i, t) for i, t in enumerate(tasks) if isinstance(t, dict)]


def check_job_graph(spec: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    tasks = _tasks(spec)
    aliases: dict[str, int] = {}
    by_alias: dict[str, dict[str, Any]] = {}  # the first task of each alias
    task_ids: dict[str, int] = {}
    for i, task in tasks:
        alias = task.get("alias")
        if isinstance(alias, str):
            if alias in aliases:
                out.append(
                    Issue(
                        "KJ001",
                        ("spec", "tasks", i, "alias"),
                        f"alias {alias!r} is also the alias of spec.tasks[{aliases[alias]}]; "
                        "Kuscia would silently never run one of them",
                    )
                )
            else:
                aliases[alias] = i
                by_alias[alias] = task
        task_id = task.get("taskID")
        if isinstance(task_id, str) and task_id:
            why = names.dns1123_label(task_id)
            if why:
                out.append(
                    Issue(
                        "KJ002",
                        ("spec", "tasks", i, "taskID"),
                        f"taskID {task_id!r} {why} (it names the {KUSCIA_TASK} that Kuscia creates)",
                    )
                )
            if task_id in task_ids:
                out.append(
                    Issue(
                        "KJ003",
                        ("spec", "tasks", i, "taskID"),
                        f"taskID {task_id!r} is also the taskID of spec.tasks[{task_ids[task_id]}]",
                    )
                )
            else:
                task_ids[task_id] = i

    edges: dict[str, list[str]] = {}
    for i, task in tasks:
        alias = task.get("alias")
        deps = task.get("dependencies")
        if not isinstance(deps, list):
            continue
        for j, dep in enumerate(deps):
            if not isinstance(dep, str):
                continue
            where = ("spec", "tasks", i, "dependencies", j)
            if dep not in aliases:
                # (built only for a wrong dependency: the later of two tasks with one taskID names it)
                by_task_id = {
                    t.get("taskID"): t.get("alias") for _, t in tasks if isinstance(t.get("taskID"), str)
                }
                if dep in by_task_id:
                    target = by_task_id[dep]
                    hint = (
                        f"; it is the taskID of the task with alias {target!r}: dependencies name aliases"
                        if isinstance(target, str)
                        else "; it is a taskID, but dependencies name aliases"
                    )
                else:
                    hint = ""
                out.append(Issue("KJ004", where, f"dependency {dep!r} is not an alias of this job{hint}"))
                continue
            if by_alias[dep].get("tolerable") is True:
                out.append(
                    Issue(
                        "KJ006",
                        where,
                        f"task {alias!r} depends on {dep!r}, which is tolerable: a tolerable task must not "
                        "be a dependency (its failure would leave this task waiting forever)",
                    )
                )
            if isinstance(alias, str):
                edges.setdefault(alias, []).append(dep)
    cycle = find_cycle(list(aliases), edges) if edges else []
    if cycle:
        first = aliases[cycle[0]]
        out.append(
            Issue(
                "KJ005",
                ("spec", "tasks", first, "dependencies"),
                "dependencies form a cycle: " + " → ".join(cycle) + " (each depends on the next)",
            )
        )
    return out


def find_cycle(nodes: list[str], edges: dict[str, list[str]]) -> list[str]:
    """The first cycle found, closed (``[a, b, a]``), in the order dependencies are followed; [] when
    acyclic."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(nodes, white)
    for start in nodes:
        if colour[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        trail = [start]
        colour[start] = grey
        while stack:
            node, k = stack[-1]
            succ = edges.get(node, [])
            if k < len(succ):
                stack[-1] = (node, k + 1)
                nxt = succ[k]
                if colour.get(nxt) == grey:
                    # edges point task -> dependency; show the order work would flow: dependency first
                    loop = trail[trail.index(nxt) :] + [nxt]
                    return loop
                if colour.get(nxt) == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    trail.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                trail.pop()
    return []
