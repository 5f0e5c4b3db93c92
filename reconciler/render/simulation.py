"""``kgitops simulate`` as text: each step's event, what became ready, was created or stopped, the phases."""

from __future__ import annotations

from reconciler.engine.simulate import Simulation
from reconciler.output.printable import printable
from reconciler.output.text import where
from reconciler.validate import Finding


def simulation_text(sim: Simulation) -> str:
    lines = [f"job {sim.job}"]
    for i, s in enumerate(sim.steps):
        if s.event is None:
            what = "start (job Running)"
        elif "stage" in s.event:
            what = f"stage {s.event['stage']}"
        else:
            what = f"task {s.event['task']} -> {s.event['phase']}"
        lines.append(f"step {i}: {what}")
        if s.note:
            lines.append(f"  note:    {s.note}")
        lines.append(f"  ready:   {', '.join(s.ready) or '-'}")
        lines.append(f"  created: {', '.join(s.created) or '-'}")
        if s.stopped:
            lines.append(f"  stopped: {', '.join(s.stopped)}")
        lines.append(f"  job:     {s.phase}")
        lines.append("  tasks:   " + ", ".join(f"{a}={p}" for a, p in s.views.items()))
    lines.append(f"never created: {', '.join(sim.never_created) or '-'}")
    return "\n".join(printable(line) for line in lines)


def warning_line(f: Finding) -> str:
    """``file:line:col: warning RULE message``, as ``kgitops validate`` prints a finding."""
    return f"{where(f)}: {f.severity.value} {f.rule} {printable(f.message)}"
