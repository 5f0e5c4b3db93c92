"""The condition types and reasons Kuscia's controllers write into a KusciaJob's or KusciaTask's status, and
those kgitops's engine adds (kuscia-semantics.md §1.2, §5.1, §6, §8).

A condition is ``status.conditions[]{type, status, reason, message, lastTransitionTime}`` (the CRDs'
``KusciaJobCondition`` / ``KusciaTaskCondition``); ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``.
A reason is ``status.reason`` of the object, or ``reason`` of a condition. Plain strings: they are written
into status mappings as they are.
"""

from __future__ import annotations

# -- KusciaJob (KusciaJobConditionType, kusciajob_types.go) -----------------------------------------------
CONDITION_JOB_VALIDATED = "JobValidated"
"""Set once, in Initialized: ``"True"``, or ``"False"`` with ``REASON_VALIDATE_FAILED`` (§6)."""

REASON_VALIDATE_FAILED = "ValidateFailed"
"""The job failed validation: the JobValidated condition's and the job's ``status.reason`` (§6)."""
REASON_CREATE_TASK_FAILED = "CreateTaskFailed"
"""A task of the job could not be created (a task of that name belongs to another job, §4.1)."""

# -- KusciaTask (KusciaTaskConditionType, kusciatask_types.go) ----------------------------------------------
CONDITION_PORTS_ALLOCATED = "PortsAllocated"
"""The task's ports are allocated (T/pending_handler.go, §8)."""
CONDITION_RESOURCE_CREATED = "ResourceCreated"
"""The task's pods and services are created; ``"False"`` with ``REASON_KUSCIA_TASK_CREATE_FAILED`` (§8)."""
CONDITION_RUNNING = "Running"
"""The task is running (§8)."""
CONDITION_SUCCESS = "Success"
"""The task succeeded (§8)."""

REASON_KUSCIA_TASK_CREATE_FAILED = "KusciaTaskCreateFailed"
"""The ResourceCreated condition's reason when the task's resources could not be created (§8)."""
REASON_KUSCIA_JOB_STOPPED = "KusciaJobStopped"
"""A task stopped by its job (Stop, Cancel, Suspend: ``stopTasks``, §5.1), with ``MESSAGE_JOB_STOPPED``."""
MESSAGE_JOB_STOPPED = "Job was stopped"

# -- kgitops's engine: reasons Kuscia does not have, for what its own runtime observes --------------------
REASON_PARTY_FAILED = "PartyFailed"
"""Too few parties of a task are left that have not failed (minReservedMembers, §8)."""
REASON_LIFECYCLE_EXCEEDED = "TaskLifecycleExceeded"
"""The task did not end within ``scheduleConfig.lifecycleSeconds``; its processes are terminated."""
REASON_UNTRUSTED_APPIMAGE = "UntrustedAppImage"
"""An AppImage of the task is not trusted (``engine.trusted_appimages``): at launch nothing runs; withdrawn
while the task ran, its processes are terminated (``engine/trust_settings.py``)."""

# A condition's ``status`` (Kubernetes' ``ConditionStatus``: ``ConditionTrue``, ``ConditionFalse``)
CONDITION_TRUE = "True"
CONDITION_FALSE = "False"
