"""A plan as text (terminal, coloured), JSON (machines) or Markdown (a pull-request comment or a GitHub
Actions job summary, with each new or changed job's DAG as a Mermaid flowchart)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.model.objects import KUSCIA_JOB
from reconciler.output.printable import printable
from reconciler.plan.model import MISSING, Action, FieldChange, Plan, PlanEntry

SYMBOL = {
    Action.CREATE: "+",
    Action.UNCHANGED: "=",
    Action.CHANGED: "~",
    Action.PRUNE: "-",
    Action.HELD: "!",
    Action.UNMANAGED: "?",
    Action.CONFLICT: "!",
}
COLOUR = {
    Action.CREATE: "green",
    Action.CHANGED: "yellow",
    Action.PRUNE: "red",
    Action.HELD: "magenta",
    Action.UNMANAGED: "cyan",
    Action.CONFLICT: "red",
    Action.UNCHANGED: "",
}


def _style(text: str, colour: str, enabled: bool) -> str:
    if not enabled or not colour:
        return text
    codes = {"red": 31, "green": 32, "yellow": 33, "magenta": 35, "cyan": 36, "dim": 2}
    return f"\x1b[{codes[colour]}m{text}\x1b[0m"


def _value(v: Any) -> str:
    if v is MISSING:
        return "<absent>"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def change_lines(c: FieldChange) -> list[tuple[str, str]]:
    """(sign, text) pairs: the old value as a removal, the new one as an addition."""
    out = []
    if c.old is not MISSING:
        out.append(("-", f"{c.path}: {_value(c.old)}"))
    if c.new is not MISSING:
        out.append(("+", f"{c.path}: {_value(c.new)}"))
    return out


def summary_line(plan: Plan) -> str:
    """``2 create, 1 held, 1 held file(s)``: objects per action, then held files apart, as ``sync`` says it
    (``plan.counts()``, which adds held files to ``held``, is the JSON's)."""
    counts = {a.value: 0 for a in Action}
    for e in plan.entries:
        counts[e.action.value] += 1
    counts[Action.UNCHANGED.value] += plan.unchanged_elided
    parts = [f"{counts[a.value]} {a.value}" for a in Action if counts[a.value]]
    if plan.held_files:
        parts.append(f"{len(plan.held_files)} held file(s)")
    return ", ".join(parts) or "no objects"


def render_text(plan: Plan, colour: bool = False, verbose: bool = False) -> str:
    """The plan as lines; each is ``printable`` (``reconciler.output.printable``) before it is coloured, so a
    name, path, reason or value from the source is shown on its line, escaped, never as a line of its own
    or as a terminal escape."""
    rows: list[tuple[str, str]] = [(f"source {plan.source_id} @ {plan.revision[:12] or '-'}", "")]
    if plan.error:
        rows.append((f"error: the source failed: {plan.error}", "red"))
    for path, why in sorted(plan.held_files.items()):
        rows.append((f"! held      {path}", COLOUR[Action.HELD]))
        rows.append((f"    {why}; its objects are not created, changed or pruned until it is fixed", ""))
    for e in plan.entries:
        if e.action == Action.UNCHANGED and not e.adopt and not verbose:
            continue
        head = f"{SYMBOL[e.action]} {e.action.value:<9} {e.ref}"
        if e.path:
            head += f"  ({e.path})"
        rows.append((head, COLOUR[e.action]))
        note = e.reason
        if e.blocked and e.blocked != e.reason:
            note = f"{note}; {e.blocked}" if note else e.blocked
        if note:
            rows.append((f"    {note}", ""))
        for c in e.changes:
            for sign, text in change_lines(c):
                rows.append((f"    {sign} {text}", "red" if sign == "-" else "green"))
    if plan.prune_refused:
        rows.append((f"prune refused: {plan.prune_refused}", "red"))
    rows.append((f"plan: {summary_line(plan)}", ""))
    return "\n".join(_style(printable(text), style, colour) for text, style in rows) + "\n"


def entry_dict(e: PlanEntry) -> dict[str, Any]:
    d: dict[str, Any] = {
        "kind": e.ref.kind,
        "namespace": e.ref.namespace,
        "name": e.ref.name,
        "action": e.action.value,
        "path": e.path,
        "reason": e.reason,
        "blocked": e.blocked,
        "effective": e.effective,
        "recreate": e.recreate,
        "adopt": e.adopt,
        "drift": e.drift,
        "changes": [
            {
                "path": c.path,
                **({"old": c.old} if c.old is not MISSING else {}),
                **({"new": c.new} if c.new is not MISSING else {}),
            }
            for c in e.changes
        ],
    }
    if e.live is not None and e.live.status.get("phase"):
        d["phase"] = str(e.live.status["phase"])
    return d


def render_json(plan: Plan) -> str:
    doc = {
        "source": plan.source_id,
        "revision": plan.revision,
        "error": plan.error,
        "pruneRefused": plan.prune_refused,
        "hasChanges": not plan.in_sync,  # any difference: what `kgitops diff` exits 1 for
        "inSync": plan.in_sync,
        "willChange": plan.has_changes,  # whether sync would change anything (a blocked change would not)
        "counts": plan.counts(),
        "heldFiles": [{"path": p, "reason": why} for p, why in sorted(plan.held_files.items())],
        "entries": [entry_dict(e) for e in plan.entries],
    }
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False, default=str) + "\n"


def _md(text: str) -> str:
    """A Markdown table cell or inline text: ``printable`` (one line), ``|`` escaped."""
    return printable(text).replace("|", "\\|")


def render_markdown(plan: Plan) -> str:
    out = [f"### kgitops plan for `{_md(plan.revision[:12] or '-')}`", ""]
    if plan.error:
        out += [f"> **The source failed:** {_md(plan.error)}", ""]
    out += [f"**{summary_line(plan)}**", ""]
    shown = [e for e in plan.entries if e.action != Action.UNCHANGED or e.adopt]
    if shown or plan.held_files:
        out += ["| | action | object | file | note |", "|---|---|---|---|---|"]
        for path, why in sorted(plan.held_files.items()):
            out.append(f"| ! | held | (file) | {_md(path)} | {_md(why)} |")
        for e in shown:
            note = e.blocked or e.reason
            out.append(
                f"| {SYMBOL[e.action]} | {e.action.value} | `{_md(str(e.ref))}` "
                f"| {_md(e.path)} | {_md(note)} |"
            )
        out.append("")
    if plan.prune_refused:
        out += [f"> **Prune refused:** {_md(plan.prune_refused)}", ""]
    for e in shown:
        if e.changes:
            out += [f"<details><summary>changes to <code>{_md(str(e.ref))}</code></summary>", "", "```diff"]
            for c in e.changes:
                out += [printable(f"{sign} {text}") for sign, text in change_lines(c)]
            out += ["```", "", "</details>", ""]
        if (
            e.ref.kind == KUSCIA_JOB
            and e.desired is not None
            and e.action in (Action.CREATE, Action.CHANGED)
        ):
            verb = "will run" if e.effective else "would run"
            out += [f"**`{_md(e.ref.name)}`** {verb}:", "", "```mermaid"]
            from reconciler.render.graph import (  # markdown only: diff/sync text not
                graph_from_spec,
                to_mermaid,
            )

            out.append(to_mermaid(graph_from_spec(e.ref.name, e.desired.spec)).rstrip("\n"))
            out += ["```", ""]
    return "\n".join(out) + "\n"


def render(plan: Plan, fmt: str, colour: bool = False, verbose: bool = False) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, colour=colour, verbose=verbose)
