"""A row of the store's ``pods`` table (``engine.store_pods``) as the process runtime tracks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PodRecord:
    """One local process ("pod") of a task party, as the process runtime tracks it."""

    task: str
    task_uid: str
    pod: str  # <domain>-<replica>
    domain: str
    replica: int
    dir: str
    state: str  # created | running | exited | terminating | gone
    pid: int = 0
    start_ticks: int = 0  # /proc/<pid>/stat start time: tells a live pod from a recycled pid
    exit_code: int | None = None
    message: str = ""
    term_at: float = 0.0  # when SIGTERM was sent (monotonic wall clock seconds)
    started: str = ""
    finished: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
