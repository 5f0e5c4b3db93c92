"""Typed, defaulted views of KusciaJob, KusciaTask and AppImage specs.

Built from a spec mapping that passed validation; CRD defaults are applied here
(``scheduleMode: Strict``, ``maxParallelism: 1``, ``tolerable: false``, ``priority: 0``)
so every consumer sees the effective object (D4: a missing scheduleMode means Strict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# re-exported: its home is model.phases, where a job's table row reads it without the typed specs
from reconciler.model.phases import DEFAULT_MAX_PARALLELISM as DEFAULT_MAX_PARALLELISM
from reconciler.model.phases import ScheduleMode

# Kuscia task defaults (T/common.go): applied when the value is missing or <= 0.
DEFAULT_LIFECYCLE_SECONDS = 300
DEFAULT_RESOURCE_RESERVED_SECONDS = 30
DEFAULT_RETRY_INTERVAL_SECONDS = 30


@dataclass(frozen=True)
class Party:
    """One entry of ``KusciaJob.spec.tasks[].parties`` (``domainID``, ``role``, ``resources``)."""

    domain_id: str
    role: str = ""
    resources: dict[str, Any] | None = None
    bandwidth_limits: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Party:
        return cls(
            domain_id=str(d.get("domainID", "")),
            role=str(d.get("role") or ""),
            resources=d.get("resources"),
            bandwidth_limits=tuple(d.get("bandwidthLimits") or ()),
        )


@dataclass(frozen=True)
class ScheduleConfig:
    """``KusciaJob.spec.tasks[].scheduleConfig``: unset or non-positive values take Kuscia's defaults."""

    min_reserved_members: int = 0  # 0: all parties
    resource_reserved_seconds: int = DEFAULT_RESOURCE_RESERVED_SECONDS
    lifecycle_seconds: int = DEFAULT_LIFECYCLE_SECONDS
    retry_interval_seconds: int = DEFAULT_RETRY_INTERVAL_SECONDS

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ScheduleConfig:
        d = d or {}

        def pos(key: str, default: int) -> int:
            value = d.get(key)
            return int(value) if isinstance(value, int) and value > 0 else default

        return cls(
            min_reserved_members=pos("minReservedMembers", 0),
            resource_reserved_seconds=pos("resourceReservedSeconds", DEFAULT_RESOURCE_RESERVED_SECONDS),
            lifecycle_seconds=pos("lifecycleSeconds", DEFAULT_LIFECYCLE_SECONDS),
            retry_interval_seconds=pos("retryIntervalSeconds", DEFAULT_RETRY_INTERVAL_SECONDS),
        )


@dataclass(frozen=True)
class TaskTemplate:
    """One entry of ``KusciaJob.spec.tasks``; dependencies are aliases (D1)."""

    alias: str
    task_id: str
    app_image: str
    task_input_config: str
    parties: tuple[Party, ...]
    dependencies: tuple[str, ...] = ()
    tolerable: bool = False
    priority: int = 0
    schedule_config: ScheduleConfig = field(default_factory=ScheduleConfig)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskTemplate:
        return cls(
            alias=str(d.get("alias", "")),
            task_id=str(d.get("taskID") or ""),
            app_image=str(d.get("appImage", "")),
            task_input_config=str(d.get("taskInputConfig", "")),
            parties=tuple(Party.from_dict(p) for p in d.get("parties") or ()),
            dependencies=tuple(str(x) for x in d.get("dependencies") or ()),
            tolerable=bool(d.get("tolerable") or False),
            priority=int(d.get("priority") or 0),
            schedule_config=ScheduleConfig.from_dict(d.get("scheduleConfig")),
            raw=d,
        )


@dataclass(frozen=True)
class JobSpec:
    """``KusciaJob.spec``: the initiator, the task templates, ``scheduleMode`` and ``maxParallelism``."""

    initiator: str
    tasks: tuple[TaskTemplate, ...]
    schedule_mode: ScheduleMode = ScheduleMode.STRICT
    max_parallelism: int = DEFAULT_MAX_PARALLELISM
    flow_id: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        mp = d.get("maxParallelism")
        return cls(
            initiator=str(d.get("initiator", "")),
            tasks=tuple(TaskTemplate.from_dict(t) for t in d.get("tasks") or ()),
            schedule_mode=ScheduleMode(d.get("scheduleMode") or ScheduleMode.STRICT),
            max_parallelism=int(mp) if isinstance(mp, int) and mp > 0 else DEFAULT_MAX_PARALLELISM,
            flow_id=str(d.get("flowID") or ""),
        )

    def task(self, alias: str) -> TaskTemplate | None:
        for t in self.tasks:
            if t.alias == alias:
                return t
        return None

    @property
    def domains(self) -> tuple[str, ...]:
        """Every party domain, in first-seen order."""
        seen: dict[str, None] = {}
        for t in self.tasks:
            for p in t.parties:
                seen.setdefault(p.domain_id, None)
        return tuple(seen)


@dataclass(frozen=True)
class TaskParty:
    """One entry of ``KusciaTask.spec.parties``: the domain, its AppImage and its pod template."""

    domain_id: str
    app_image_ref: str
    role: str = ""
    min_reserved_pods: int = 0
    template: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskParty:
        return cls(
            domain_id=str(d.get("domainID", "")),
            app_image_ref=str(d.get("appImageRef", "")),
            role=str(d.get("role") or ""),
            min_reserved_pods=int(d.get("minReservedPods") or 0),
            template=dict(d.get("template") or {}),
        )


@dataclass(frozen=True)
class TaskSpec:
    """``KusciaTask.spec``."""

    initiator: str
    task_input_config: str
    parties: tuple[TaskParty, ...]
    schedule_config: ScheduleConfig = field(default_factory=ScheduleConfig)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(
            initiator=str(d.get("initiator", "")),
            task_input_config=str(d.get("taskInputConfig", "")),
            parties=tuple(TaskParty.from_dict(p) for p in d.get("parties") or ()),
            schedule_config=ScheduleConfig.from_dict(d.get("scheduleConfig")),
        )


@dataclass(frozen=True)
class AppImageSpec:
    """``AppImage.spec``: the image, its config templates and its deploy templates."""

    image: dict[str, Any]
    config_templates: dict[str, str]
    deploy_templates: tuple[dict[str, Any], ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AppImageSpec:
        return cls(
            image=dict(d.get("image") or {}),
            config_templates={str(k): str(v) for k, v in (d.get("configTemplates") or {}).items()},
            deploy_templates=tuple(d.get("deployTemplates") or ()),
        )

    def deploy_template_for(self, role: str) -> dict[str, Any] | None:
        """Kuscia picks the template whose role matches, else the one with no role, else the first."""
        fallback = None
        for t in self.deploy_templates:
            if (t.get("role") or "") == role and role:
                return t
            if not t.get("role") and fallback is None:
                fallback = t
        if fallback is not None:
            return fallback
        return self.deploy_templates[0] if self.deploy_templates else None
