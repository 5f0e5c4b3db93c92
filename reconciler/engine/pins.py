"""What a job runs is what it was created with: its AppImages are pinned by content when the job is created.

The engine runs an AppImage's command with the user's rights, and trust (``engine.trusted_appimages``) names
AppImages. A name alone would let a command changed in Git afterwards run inside a job that was already
created and approved. So when a KusciaJob (or a KusciaTask no job owns) is created, the store records, in the
same transaction, the spec of every AppImage it names as it is at that moment (with its ``sha256:`` digest);
its tasks launch from that record, whatever the AppImage becomes later. A changed AppImage runs only for jobs
created after the change. An AppImage that does not exist yet when the job is created is pinned when the job's
first task uses it. The records go when the job is deleted; a Restart keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK


def spec_digest(spec: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of an AppImage spec in canonical JSON (sorted keys, no spaces)."""
    import hashlib  # OpenSSL's loading is paid by the writes that pin, not by every reader of the store

    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PinnedAppImage:
    """The content of an AppImage as a job (or a standalone task) saw it when it was created."""

    name: str
    digest: str
    spec: dict[str, Any]


def appimages_of(obj: Resource) -> list[str]:
    """The AppImages a KusciaJob (``tasks[].appImage``) or a KusciaTask (``parties[].appImageRef``) names."""
    names: list[str] = []
    if obj.kind == KUSCIA_JOB:
        names = [str(t.get("appImage") or "") for t in obj.spec.get("tasks") or () if isinstance(t, dict)]
    elif obj.kind == KUSCIA_TASK:
        parties = obj.spec.get("parties") or ()
        names = [str(p.get("appImageRef") or "") for p in parties if isinstance(p, dict)]
    return sorted({n for n in names if n})
