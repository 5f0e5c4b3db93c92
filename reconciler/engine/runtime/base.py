"""The contract between the task controller and a runtime.

The task controller owns the KusciaTask status; a runtime only starts pods, reports what they do and
stops them. Swapping the runtime (processes, or the scripted phases of ``kgitops simulate``) leaves every
rule of the controllers untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import Resource


class LaunchError(Exception):
    """A task's pods cannot be started; ``reason`` becomes the task's status.reason."""

    def __init__(self, reason: str, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry  # may resolve itself (e.g. the AppImage is created next): wait a while first


@dataclass
class PodView:
    """One pod of one party, as the runtime sees it now."""

    domain: str
    name: str
    phase: str  # a PodPhase's value: Pending | Running | Succeeded | Failed
    message: str = ""
    start_time: str = ""
    reason: str = ""


@dataclass
class Launched:
    """What a launch produced: the pods, and per party the ports it allocated (name → port)."""

    pods: list[PodView]
    ports: dict[str, dict[str, int]] = field(default_factory=dict)  # domain -> {port name: port}
    port_meta: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=dict
    )  # domain -> name -> scope etc.


AppImageLookup = Callable[[str], Resource | None]


class Runtime(ABC):
    #: whether the task controller enforces scheduleConfig.lifecycleSeconds for this runtime
    enforces_lifecycle: bool = True

    @abstractmethod
    def launch(self, task: Resource, lookup: AppImageLookup) -> Launched:
        """Start every pod of every party; raise LaunchError if the task cannot run at all."""

    @abstractmethod
    def observe(self, task: Resource) -> list[PodView]:
        """The pods of the task and their phases."""

    @abstractmethod
    def terminate(self, task: Resource) -> bool:
        """Stop the task's live pods (non-blocking escalation); True while any is still alive."""

    def withdrawn(self, task: Resource) -> str:
        """Why a launched task may no longer run (e.g. its AppImage is no longer trusted), or ""."""
        return ""

    def fileno(self) -> int | None:
        """A file descriptor that turns readable when ``news()`` has something (a process exited), for the
        driver to wait on; None when the runtime has none (then ``news()`` is asked on every wake-up)."""
        return None

    def news(self) -> set[str]:
        """The uids of the tasks whose pods changed (a process exited) since the last call; never blocks."""
        return set()

    def next_check(self) -> float | None:
        """When (``time.monotonic()``) ``news()`` may have something no file descriptor announces (pods the
        runtime can only poll), or None."""
        return None

    def needs_attention(self, task_uid: str) -> bool:
        """False when the runtime knows nothing changed for this running task since it was last observed."""
        return True

    def collect_garbage(self, live_tasks: Mapping[str, str]) -> bool:
        """Stop and forget pods of tasks that no longer exist (name → uid of the tasks that do)."""
        return False

    def has_live_pods(self) -> bool:
        return False

    def tick(self) -> None:  # noqa: B027 - optional hook
        """Called once per engine pass (reap children, escalate signals)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def describe(self) -> dict[str, Any]:
        return {}
