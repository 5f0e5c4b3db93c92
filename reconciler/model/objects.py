"""Object identity and the generic resource envelope every backend speaks.

Specs stay plain dicts here so that a Resource round-trips losslessly to Kubernetes and
KusciaAPI; the typed views in ``specs.py`` are derived from them where logic needs types.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

API_GROUP = "kuscia.secretflow"
API_VERSION = f"{API_GROUP}/v1alpha1"
DEFAULT_NAMESPACE = "cross-domain"
KUSCIA_JOB = "KusciaJob"
KUSCIA_TASK = "KusciaTask"
APP_IMAGE = "AppImage"
KINDS = (KUSCIA_JOB, KUSCIA_TASK, APP_IMAGE)
# kgitops's own kind (approvals through Git: ``reconciler.approvals``), in KGITOPS_API_VERSION; not Kuscia's
JOB_APPROVAL = "JobApproval"
_SCALARS = (str, int, float, bool, type(None))
# AppImage is cluster-scoped in Kuscia; it has no namespace.
CLUSTER_SCOPED = frozenset({APP_IMAGE})


@dataclass(frozen=True, order=True)
class ObjectRef:
    """kind/namespace/name: the identity of an object in the desired and the live state."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, kind: str, name: str, namespace: str | None = None) -> ObjectRef:
        if kind in CLUSTER_SCOPED:
            return cls(kind, "", name)
        return cls(kind, namespace or DEFAULT_NAMESPACE, name)

    def __str__(self) -> str:
        if not self.namespace:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Origin:
    """Where a desired object came from: file path (relative to the source root), position, revision."""

    path: str
    line: int = 0
    column: int = 0
    revision: str = ""


@dataclass
class Resource:
    """A Kuscia object as stored by any backend: metadata, spec and status as plain data."""

    kind: str
    name: str
    namespace: str = DEFAULT_NAMESPACE
    api_version: str = API_VERSION
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    resource_version: str = ""
    uid: str = ""
    creation_timestamp: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        if self.kind in CLUSTER_SCOPED:
            self.namespace = ""
        elif not self.namespace:
            self.namespace = DEFAULT_NAMESPACE

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)

    @classmethod
    def from_manifest(cls, doc: dict[str, Any], origin: Origin | None = None) -> Resource:
        """Build from a manifest mapping (already validated, or from a backend)."""
        meta = doc.get("metadata") or {}
        return cls(
            kind=str(doc.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or ""),
            api_version=str(doc.get("apiVersion", API_VERSION)),
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            spec=plain_copy(doc.get("spec") or {}),
            status=plain_copy(doc.get("status") or {}),
            resource_version=str(meta.get("resourceVersion") or ""),
            uid=str(meta.get("uid") or ""),
            creation_timestamp=str(meta.get("creationTimestamp") or ""),
            origin=origin,
        )

    def to_manifest(self, with_status: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        if self.labels:
            meta["labels"] = dict(self.labels)
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        if self.resource_version:
            meta["resourceVersion"] = self.resource_version
        if self.uid:
            meta["uid"] = self.uid
        if self.creation_timestamp:
            meta["creationTimestamp"] = self.creation_timestamp
        doc: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": meta,
            "spec": plain_copy(self.spec),
        }
        if with_status and self.status:
            doc["status"] = plain_copy(self.status)
        return doc


def plain_copy(value: Any) -> Any:
    """A deep copy of plain data, what a manifest decodes to (dicts, lists, str, int, float, bool, None):
    several times cheaper than ``copy.deepcopy``, which keeps a memo for shared and cyclic references that
    decoded manifests never have (the loader expands aliases into fresh nodes). Anything else is copied with
    ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)
