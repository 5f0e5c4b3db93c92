"""The status of one managed object, as written to a status file and to the status branch.

Deterministic by construction (sorted keys, no wall-clock time of the write), so a file's bytes change only
when something a user cares about changed, and an unchanged reconcile writes nothing and commits nothing.

Records are dumped and read by libyaml where it writes PyYAML's bytes (``reconciler.yamlio``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler import yamlio
from reconciler.approvals.provenance import party_approvals
from reconciler.filenames import fitting_name
from reconciler.kuscia.labels import KGITOPS_API_VERSION
from reconciler.model import JobPhase, ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB

STATUS_API_VERSION = KGITOPS_API_VERSION
# A status file's temp file adds ``.`` in front and ``.<pid>.tmp`` behind (``reconciler.status.atomic``): room
# kept free in the status file's own name, so the temp file's fits too (a pid has at most 7 digits on Linux).
TEMP_ROOM = len("..1234567.tmp")
CLUSTER_SCOPE_DIR = "_cluster"  # directory for cluster-scoped objects (AppImage), which have no namespace
_SAFE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SAFE_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")


class SyncState:
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    HELD = "Held"
    FAILED = "Failed"
    STOPPING = "Stopping"  # pruned: stopped, deleted once final or after prune.grace_period


@dataclass(frozen=True)
class StatusRecord:
    ref: ObjectRef
    sync_state: str
    revision: str = ""
    source_path: str = ""
    reason: str = ""
    message: str = ""
    live: dict[str, Any] = field(default_factory=dict)

    @property
    def phase(self) -> str:
        return str(self.live.get("phase") or "")

    def to_dict(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.ref.name}
        if self.ref.namespace:
            meta["namespace"] = self.ref.namespace
        sync: dict[str, Any] = {"state": self.sync_state, "revision": self.revision}
        if self.source_path:
            sync["path"] = self.source_path
        if self.reason:
            sync["reason"] = self.reason
        if self.message:
            sync["message"] = self.message
        doc: dict[str, Any] = {
            "apiVersion": STATUS_API_VERSION,
            "kind": f"{self.ref.kind}Status",
            "metadata": meta,
            "sync": sync,
        }
        if self.live:
            doc["live"] = self.live
        return doc

    def to_yaml(self) -> bytes:
        """The record as a status file's UTF-8 bytes: sorted keys, block style, unicode kept."""
        return yamlio.safe_dump(self.to_dict(), sort_keys=True).encode("utf-8")

    @classmethod
    def from_yaml(cls, data: bytes | str) -> StatusRecord:
        """A record from a status file's text; a document that is not a mapping gives an empty record.
        Raises ``yaml.YAMLError`` when the text is not YAML."""
        doc = yamlio.safe_load(data)
        return cls.from_dict(doc if isinstance(doc, dict) else {})

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> StatusRecord:
        meta = doc.get("metadata") or {}
        sync = doc.get("sync") or {}
        kind = str(doc.get("kind", "")).removesuffix("Status")
        return cls(
            ObjectRef(kind, str(meta.get("namespace") or ""), str(meta.get("name", ""))),
            str(sync.get("state", "")),
            str(sync.get("revision", "")),
            str(sync.get("path", "")),
            str(sync.get("reason", "")),
            str(sync.get("message", "")),
            dict(doc.get("live") or {}),
        )


def live_summary(obj: Resource | None) -> dict[str, Any]:
    """The parts of a live object's status worth recording: phase, reason, message, times, task phases."""
    if obj is None:
        return {}
    st = obj.status or {}
    out: dict[str, Any] = {}
    phase = st.get("phase")
    if phase:
        try:
            out["phase"] = str(JobPhase.parse(str(phase)))  # D8: Kuscia's "initialized" reads Initialized
        except ValueError:
            out["phase"] = str(phase)
    for key in ("reason", "message", "startTime", "completionTime"):
        if st.get(key):
            out[key] = str(st[key])
    tasks = st.get("taskStatus")
    if isinstance(tasks, dict) and tasks:
        out["tasks"] = {str(k): str(v) for k, v in sorted(tasks.items())}
    if obj.kind == KUSCIA_JOB:  # per party: approveStatus, and who/when/which commit approved in Git
        parties = [p.to_status() for p in party_approvals(obj) if not p.initiator]
        if parties:
            out["approvals"] = parties
    return out


def relative_path(ref: ObjectRef) -> str | None:
    """``<namespace>/<kind>/<name>.yaml``, or None when any part could leave the status directory. A name
    too long for a file name (with ``.yaml`` and the temp file's decorations, over 237 bytes) is shortened
    to ``<prefix>_<digest>.yaml`` (``reconciler.filenames.fitting_name``)."""
    ns = ref.namespace or CLUSTER_SCOPE_DIR
    if not (
        _SAFE_KIND.match(ref.kind) and _SAFE.match(ref.name) and (ns == CLUSTER_SCOPE_DIR or _SAFE.match(ns))
    ):
        return None
    if ".." in ref.name or ".." in ns:
        return None
    return f"{ns}/{ref.kind}/{fitting_name(ref.name, '.yaml', TEMP_ROOM)}"


def label(record: StatusRecord | None) -> str:
    if record is None:
        return "absent"
    return label_of(record.sync_state, record.phase)


def label_of(sync_state: str, phase: str) -> str:
    """What a transition line says of a record: its phase when synced, else its sync state (and phase)."""
    if sync_state == SyncState.SYNCED and phase:
        return phase
    return f"{sync_state}" + (f" ({phase})" if phase else "")


def transitions(old: dict[str, StatusRecord], new: dict[str, StatusRecord]) -> list[str]:
    """Human lines for what changed between two sets of records keyed by relative path."""
    lines = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        ref = (after or before).ref  # type: ignore[union-attr]
        lines.append(transition_line(ref, None if before is None else label(before),
                                     None if after is None else label(after)))
    return lines


def transition_line(ref: ObjectRef, before: str | None, after: str | None) -> str:
    """The line for one record that changed, from the labels (``label``) it had and has; None: absent."""
    name = ref.name if ref.kind == KUSCIA_JOB else f"{ref.kind}/{ref.name}"
    if after is None:
        return f"{name}: {before} → removed"
    if before is None:
        return f"{name}: new, {after}"
    if before != after:
        return f"{name}: {before} → {after}"
    return f"{name}: {after} (details changed)"
