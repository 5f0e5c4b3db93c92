"""A job's task DAG as Mermaid, Graphviz dot or terminal text; pure functions of the spec and live phases.

Mermaid is the one for pull requests: GitHub renders it in comments and job summaries, so reviewers see
which tasks run after which, coloured by phase when the job is live. Edges point from a dependency to the
task that needs it (the order things run in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.output.printable import printable
from reconciler.render.table import colour_phase
from reconciler.views import JobInfo, TaskState

FORMATS = ("mermaid", "dot", "ascii")

# phase -> (fill, stroke) for Mermaid and dot
FILLS: dict[str, tuple[str, str]] = {
    TaskState.SUCCEEDED: ("#d4edda", "#28a745"),
    TaskState.RUNNING: ("#cce5ff", "#007bff"),
    TaskState.PENDING: ("#fff3cd", "#ffc107"),
    TaskState.FAILED: ("#f8d7da", "#dc3545"),
    TaskState.BLOCKED: ("#e2e3e5", "#dc3545"),
    TaskState.NOT_CREATED: ("#f8f9fa", "#6c757d"),
}
SYMBOLS: dict[str, str] = {
    TaskState.SUCCEEDED: "✔",
    TaskState.RUNNING: "▶",
    TaskState.PENDING: "…",
    TaskState.FAILED: "✘",
    TaskState.BLOCKED: "⊘",
    TaskState.NOT_CREATED: "○",
}


@dataclass(frozen=True)
class Node:
    alias: str
    phase: str = ""  # "" when no live job is known
    task_id: str = ""
    tolerable: bool = False


@dataclass(frozen=True)
class Graph:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (dependency alias, dependent alias)

    def children(self, alias: str) -> list[str]:
        return [b for a, b in self.edges if a == alias]

    def parents(self, alias: str) -> list[str]:
        return [a for a, b in self.edges if b == alias]


def _edges(nodes: Sequence[Node], deps: Mapping[str, Sequence[str]]) -> tuple[tuple[str, str], ...]:
    known = {n.alias for n in nodes}
    return tuple((d, n.alias) for n in nodes for d in deps.get(n.alias, ()) if d in known)


def graph_from_spec(name: str, spec: Mapping[str, Any]) -> Graph:
    """The DAG of a KusciaJob spec as written (no phases)."""
    nodes: list[Node] = []
    deps: dict[str, list[str]] = {}
    for t in spec.get("tasks") or ():
        if not isinstance(t, Mapping):
            continue
        alias = str(t.get("alias") or t.get("taskID") or "")
        nodes.append(Node(alias, "", str(t.get("taskID") or ""), bool(t.get("tolerable"))))
        deps[alias] = [str(d) for d in t.get("dependencies") or ()]
    return Graph(name, tuple(nodes), _edges(nodes, deps))


def graph_from_job(job: JobInfo) -> Graph:
    """The DAG of a live job, every task with its phase (Blocked ones included)."""
    nodes = [Node(t.alias, t.phase.value, t.name, t.tolerable) for t in job.tasks]
    return Graph(job.name, tuple(nodes), _edges(nodes, {t.alias: t.dependencies for t in job.tasks}))


# -- Mermaid ----------------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return printable(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: Graph) -> str:
    """``flowchart TD`` with one class per phase; node ids are n0, n1, ... so any alias is safe."""
    ids = {n.alias: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for n in graph.nodes:
        label = _mermaid_text(n.alias)
        if n.phase:
            label += f"<br/><small>{_mermaid_text(n.phase)}</small>"
        if n.tolerable:
            label += "<br/><small>tolerable</small>"
        lines.append(f'    {ids[n.alias]}["{label}"]')
    for a, b in graph.edges:
        lines.append(f"    {ids[a]} --> {ids[b]}")
    used = sorted({n.phase for n in graph.nodes if n.phase in FILLS})
    for phase in used:
        fill, stroke = FILLS[phase]
        lines.append(f"    classDef {phase.lower()} fill:{fill},stroke:{stroke},color:#000")
        members = ",".join(ids[n.alias] for n in graph.nodes if n.phase == phase)
        lines.append(f"    class {members} {phase.lower()}")
    return "\n".join(lines) + "\n"


# -- dot ----------------------------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    """A dot string; ``text``'s own line breaks (kgitops's label lines) become dot's ``\\n``, any other
    control character is shown ``printable``."""
    text = "\n".join(printable(part) for part in text.split("\n"))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    lines = [
        f"digraph {_dot_quote(graph.title or 'job')} {{",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for n in graph.nodes:
        label = n.alias + (f"\n{n.phase}" if n.phase else "") + ("\n(tolerable)" if n.tolerable else "")
        attrs = [f"label={_dot_quote(label)}"]
        if n.phase in FILLS:
            fill, stroke = FILLS[n.phase]
            attrs += [f'fillcolor="{fill}"', f'color="{stroke}"']
        if n.phase == TaskState.BLOCKED:
            attrs.append('style="rounded,filled,dashed"')
        lines.append(f"    {_dot_quote(n.alias)} [{', '.join(attrs)}];")
    for a, b in graph.edges:
        lines.append(f"    {_dot_quote(a)} -> {_dot_quote(b)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- terminal ---------------------------------------------------------------------------------------------


def to_ascii(graph: Graph, colour: bool = False) -> str:
    """A tree from the root tasks down; a task with several dependencies is drawn in full under the first
    and referred to (``↑ see above``) under the others, and its line lists what it needs."""
    if not graph.nodes:
        return f"{printable(graph.title)}: no tasks\n"
    by_alias = {n.alias: n for n in graph.nodes}
    drawn: set[str] = set()
    lines = [printable(graph.title)]

    def label(n: Node) -> str:
        text = printable(n.alias)
        if n.phase:
            sym = SYMBOLS.get(n.phase, "?")
            phase = colour_phase(n.phase) if colour else printable(n.phase)
            text = f"{sym} {text}  [{phase}]"
        parents = graph.parents(n.alias)
        if len(parents) > 1:
            text += "  needs: " + printable(", ".join(parents))
        if n.tolerable:
            text += "  (tolerable)"
        return text

    def walk(alias: str, prefix: str, last: bool, path: tuple[str, ...]) -> None:
        branch = "└── " if last else "├── "
        n = by_alias[alias]
        if alias in path:
            lines.append(f"{prefix}{branch}{printable(alias)}  ↻ cycle")
            return
        if alias in drawn:
            lines.append(f"{prefix}{branch}{printable(alias)}  ↑ see above")
            return
        drawn.add(alias)
        lines.append(f"{prefix}{branch}{label(n)}")
        kids = graph.children(alias)
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("    " if last else "│   "), i == len(kids) - 1, (*path, alias))

    roots = [n.alias for n in graph.nodes if not graph.parents(n.alias)]
    for i, alias in enumerate(roots):
        walk(alias, "", i == len(roots) - 1, ())
    # Tasks only reachable through a cycle have no root; draw them too so nothing is left out.
    for n in graph.nodes:
        if n.alias not in drawn:
            walk(n.alias, "", True, ())
    return "\n".join(lines) + "\n"


def render(graph: Graph, fmt: str, colour: bool = False) -> str:
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "ascii":
        return to_ascii(graph, colour)
    raise ValueError(f"unknown graph format `{fmt}`; use one of: {', '.join(FORMATS)}")
