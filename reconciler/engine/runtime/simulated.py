"""The runtime behind ``kgitops simulate``: pods do nothing until an event reports their task's new phase."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.engine.runtime.base import AppImageLookup, Launched, PodView, Runtime
from reconciler.model import Resource
from reconciler.model.phases import PodPhase


class SimulatedRuntime(Runtime):
    enforces_lifecycle = False

    def __init__(self) -> None:
        self._phase: dict[str, str] = {}  # task uid -> reported phase
        self._news: set[str] = set()  # uids reported since they were last observed
        self._fresh: set[str] = set()  # uids reported since ``news()`` was last asked

    def report(self, task: Resource, phase: str) -> None:
        """The runtime observed ``phase`` for every pod of ``task`` (an event of the simulation)."""
        self._phase[task.uid] = phase
        self._news.add(task.uid)
        self._fresh.add(task.uid)

    def news(self) -> set[str]:
        out, self._fresh = self._fresh, set()
        return out

    def needs_attention(self, task_uid: str) -> bool:
        return task_uid in self._news

    def _pods(self, task: Resource) -> list[PodView]:
        phase = self._phase.get(task.uid, str(PodPhase.PENDING))
        return [
            PodView(domain=str(p.get("domainID", "")), name=f"{task.name}-{i}", phase=phase)
            for i, p in enumerate(task.spec.get("parties") or ())
        ]

    def launch(self, task: Resource, lookup: AppImageLookup) -> Launched:
        return Launched(pods=self._pods(task))

    def observe(self, task: Resource) -> list[PodView]:
        self._news.discard(task.uid)
        return self._pods(task)

    def terminate(self, task: Resource) -> bool:
        return False

    def collect_garbage(self, live_tasks: Mapping[str, str]) -> bool:
        uids = set(live_tasks.values())
        for uid in [u for u in self._phase if u not in uids]:
            del self._phase[uid]
        return False
