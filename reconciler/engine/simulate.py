"""``kgitops simulate``: the real job controller and scheduler over an in-memory store and a scripted runtime.

The job starts Running with the ``given`` tasks; each event (a task's new phase reported by the runtime, or
a stage command) is applied and the engine reconciles until nothing changes: that is one step.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.engine import Engine
from reconciler.engine.job_controller import should_reconcile
from reconciler.engine.runtime.simulated import SimulatedRuntime
from reconciler.engine.scheduler import view_phases
from reconciler.engine.stage_commands import set_stage_label
from reconciler.engine.store import Store, utc_now
from reconciler.engine.taskbuild import build_task, generate_task_id
from reconciler.kuscia.conditions import CONDITION_JOB_VALIDATED, CONDITION_RESOURCE_CREATED, CONDITION_TRUE
from reconciler.kuscia.labels import (
    ANNOTATION_INITIATOR,
    ANNOTATION_INTERCONN_SELF_PARTIES,
    ANNOTATION_SELF_CLUSTER_AS_INITIATOR,
)
from reconciler.kuscia.stages import COMMANDS, kgitops_refusal
from reconciler.model import JobPhase, JobSpec, ObjectRef, Resource, Stage, TaskPhase
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.model.phases import ApprovePhase, JobStagePhase
from reconciler.validate import admission
from reconciler.validate.admission import Verdict

TASK_PHASES: tuple[TaskPhase, ...] = tuple(TaskPhase)  # a task given with --given starts in one of these
EVENT_PHASES = (TaskPhase.RUNNING, TaskPhase.SUCCEEDED, TaskPhase.FAILED)  # what a task event reports
STAGES: tuple[Stage, ...] = COMMANDS  # what a stage event issues


class SimulationError(Exception):
    """Bad simulation input; the message names what is wrong and how to fix it."""


class InvalidJob(SimulationError):
    """Admission refused the job (the checks of ``kgitops validate``): nothing is simulated.

    ``verdict`` lists every error by field; ``kgitops simulate`` shows them with file positions instead."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.message()}; nothing was simulated")
        self.verdict = verdict


@dataclass
class Step:
    event: dict[str, str] | None
    ready: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    phase: str = ""
    tasks: dict[str, str] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)  # every task incl. Blocked/NotCreated (text view)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "ready": self.ready,
            "created": self.created,
            "stopped": self.stopped,
            "phase": self.phase,
            "tasks": self.tasks,
        }


@dataclass
class Simulation:
    job: str
    steps: list[Step]
    never_created: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "steps": [s.to_json() for s in self.steps],
            "never_created": self.never_created,
        }


class _StepRecorder:
    def __init__(self) -> None:
        self.step: Step | None = None
        self._scheduled = False
        self.ever_created: set[str] = set()

    def begin(self, step: Step) -> None:
        self.step = step
        self._scheduled = False

    def scheduled(self, job: str, ready: Sequence[str]) -> None:
        if self.step is not None and not self._scheduled:
            self._scheduled = True
            self.step.ready = list(ready)

    def created(self, job: str, alias: str) -> None:
        self.ever_created.add(alias)
        if self.step is not None:
            self.step.created.append(alias)

    def stopped(self, job: str, alias: str) -> None:
        if self.step is not None:
            self.step.stopped.append(alias)


def parse_event(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise SimulationError(
            f"{where}: an event is a mapping like {{task: a, phase: Succeeded}} or {{stage: Stop}}"
        )
    if "stage" in raw:
        if set(raw) != {"stage"} or raw["stage"] not in STAGES:
            raise SimulationError(f"{where}: a stage event is {{stage: X}} with X one of {', '.join(STAGES)}")
        return {"stage": str(raw["stage"])}
    if set(raw) != {"task", "phase"} or raw.get("phase") not in EVENT_PHASES:
        raise SimulationError(
            f"{where}: a task event is {{task: ALIAS, phase: P}} with P one of {', '.join(EVENT_PHASES)}"
        )
    return {"task": str(raw["task"]), "phase": str(raw["phase"])}


class Simulator:
    def __init__(self, manifest: dict[str, Any], given: dict[str, str] | None = None) -> None:
        self.store = Store(":memory:")
        self.runtime = SimulatedRuntime()
        self.recorder = _StepRecorder()
        self.engine = Engine(self.store, self.runtime, recorder=self.recorder)
        # simulate stores the job without a backend, so it runs the admission every backend runs on create
        verdict = admission.check_manifest(manifest)
        if not verdict.ok:
            raise InvalidJob(verdict)
        job = Resource.from_manifest(copy.deepcopy(manifest))
        if job.kind != KUSCIA_JOB:
            raise SimulationError(f"simulate runs a {KUSCIA_JOB}, not a {job.kind}")
        try:
            JobSpec.from_dict(job.spec)
        except (ValueError, TypeError) as exc:
            raise SimulationError(f"the job spec cannot be scheduled: {exc}") from None
        aliases = [str(t.get("alias", "")) for t in job.spec.get("tasks") or ()]
        for alias, phase in (given or {}).items():
            if alias not in aliases:
                raise SimulationError(
                    f"--given {alias}={phase}: no task with alias {alias!r} (tasks: {', '.join(aliases)})"
                )
            if phase not in TASK_PHASES:
                raise SimulationError(
                    f"--given {alias}={phase}: the phase must be one of {', '.join(TASK_PHASES)}"
                )
        for t in job.spec.get("tasks") or ():
            if not t.get("taskID"):
                t["taskID"] = generate_task_id(job.name)
        spec = JobSpec.from_dict(job.spec)
        now = utc_now()
        job.annotations.update(
            {
                ANNOTATION_SELF_CLUSTER_AS_INITIATOR: "true",
                ANNOTATION_INITIATOR: spec.initiator,
                ANNOTATION_INTERCONN_SELF_PARTIES: "_".join(spec.domains),
            }
        )
        job.status = {
            "phase": str(JobPhase.RUNNING),
            "startTime": now,
            "conditions": [
                {"type": CONDITION_JOB_VALIDATED, "status": CONDITION_TRUE, "lastTransitionTime": now}
            ],
            "stageStatus": {d: str(JobStagePhase.CREATE_SUCCEEDED) for d in spec.domains},
            "approveStatus": {d: str(ApprovePhase.ACCEPTED) for d in spec.domains},
        }
        self.job = self.store.create(job)
        self.spec = spec
        for t in job.spec.get("tasks") or ():
            given_phase = (given or {}).get(t["alias"])
            if given_phase is None:
                continue
            task = build_task(self.job, t)
            task.status = {
                "phase": given_phase,
                "startTime": now,
                "conditions": [
                    {"type": CONDITION_RESOURCE_CREATED, "status": CONDITION_TRUE, "lastTransitionTime": now}
                ],
            }
            if TaskPhase(given_phase).is_final:
                task.status["completionTime"] = now
            stored = self.store.create(task, owner=self.job.uid)
            self.runtime.report(stored, given_phase)
            self.recorder.ever_created.add(t["alias"])

    def _tasks(self) -> dict[str, tuple[str, TaskPhase]]:
        """alias → (task name, phase) of the tasks that exist, in creation order."""
        return {a: (n, TaskPhase.parse(p)) for n, a, p in self.store.task_index(self.job.uid)}

    def _job(self) -> Resource:
        job = self.store.get(self.job.ref)
        assert job is not None
        return job

    def step(self, event: dict[str, str] | None) -> Step:
        step = Step(event=event)
        self.recorder.begin(step)
        if event is not None:
            step.note = self._apply(event)
        self.engine.settle()
        self.recorder.begin(Step(event=None))
        job = self._job()
        step.phase = str(JobPhase.parse(job.status.get("phase")))
        phases = {a: ph for a, (_, ph) in self._tasks().items()}
        step.tasks = {t.alias: str(phases[t.alias]) for t in self.spec.tasks if t.alias in phases}
        step.views = view_phases(self.spec, phases)
        return step

    def _apply(self, event: dict[str, str]) -> str:
        if "stage" in event:
            job = self._job()
            stage = Stage(event["stage"])
            refusal = kgitops_refusal(stage, job.status)
            if refusal is not None:
                return refusal.text(job.name)
            set_stage_label(job, stage, self.spec.initiator)
            self.store.put(job)
            return ""
        entry = self._tasks().get(event["task"])
        if entry is None:
            return f"task {event['task']} does not exist: event ignored"
        if entry[1].is_final:
            return f"task {event['task']} already finished: event ignored"
        task = self.store.get(ObjectRef(KUSCIA_TASK, self.job.namespace, entry[0]))
        assert task is not None
        self.runtime.report(task, event["phase"])
        return ""

    def next_auto_event(self, fail: set[str]) -> dict[str, str] | None:
        """Without scripted events: the earliest-created unfinished task finishes (fails if named)."""
        if not should_reconcile(self._job()):
            return None
        for alias, (_, phase) in self._tasks().items():
            if not phase.is_final:
                phase_now = TaskPhase.FAILED if alias in fail else TaskPhase.SUCCEEDED
                return {"task": alias, "phase": str(phase_now)}
        return None

    def never_created(self) -> list[str]:
        return [t.alias for t in self.spec.tasks if t.alias not in self.recorder.ever_created]


def simulate(
    manifest: dict[str, Any],
    given: dict[str, str] | None = None,
    events: list[dict[str, str]] | None = None,
    fail: set[str] | None = None,
    max_steps: int = 10_000,
) -> Simulation:
    sim = Simulator(manifest, given)
    steps = [sim.step(None)]
    if events is not None:
        for ev in events:
            steps.append(sim.step(ev))
    else:
        while len(steps) < max_steps:
            auto = sim.next_auto_event(fail or set())
            if auto is None:
                break
            steps.append(sim.step(auto))
    return Simulation(job=sim.job.name, steps=steps, never_created=sim.never_created())
