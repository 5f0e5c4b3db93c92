"""How kgitops objects map onto the Kubernetes API: kinds to plurals, Resource to manifest (errors:
``k8s.errors``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.backends.base import BackendError
from reconciler.model import Resource
from reconciler.model.objects import API_GROUP, APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK

GROUP = API_GROUP
VERSION = "v1alpha1"


@dataclass(frozen=True)
class KindInfo:
    kind: str
    plural: str
    namespaced: bool
    has_status: bool  # the CRD declares the status subresource


KIND_INFO: dict[str, KindInfo] = {
    KUSCIA_JOB: KindInfo(KUSCIA_JOB, "kusciajobs", True, True),
    KUSCIA_TASK: KindInfo(KUSCIA_TASK, "kusciatasks", True, True),
    APP_IMAGE: KindInfo(APP_IMAGE, "appimages", False, False),
}


def kind_info(kind: str) -> KindInfo:
    try:
        return KIND_INFO[kind]
    except KeyError:
        known = ", ".join(KIND_INFO)
        raise BackendError(
            f"the kubernetes backend does not manage `{kind}` objects; known kinds: {known}"
        ) from None


def label_selector(labels: Mapping[str, str] | None) -> str:
    """Equality-based selector (`a=b,c=d`), the form every API server accepts."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def to_body(obj: Resource) -> dict[str, Any]:
    """The manifest sent on create: no server-owned metadata, no status (the subresource ignores it)."""
    body = obj.to_manifest(with_status=False)
    meta = body["metadata"]
    for key in ("resourceVersion", "uid", "creationTimestamp"):
        meta.pop(key, None)
    return body


def from_body(doc: Mapping[str, Any]) -> Resource:
    return Resource.from_manifest(dict(doc))
