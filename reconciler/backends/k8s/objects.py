"""How kgitops objects map onto the Kubernetes API: kinds to plurals, Resource to manifest, errors to
BackendError subclasses with messages a user can act on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.backends.base import AlreadyExists, BackendError, Conflict, NotFound
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


def error_detail(exc: Any) -> tuple[int, str, str]:
    """(status, reason, message) of an ApiException, reading the Status object in its body if any."""
    status = int(getattr(exc, "status", 0) or 0)
    reason = str(getattr(exc, "reason", "") or "")
    message = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            doc = json.loads(body)
        except (TypeError, ValueError):
            doc = None
        if isinstance(doc, dict):
            reason = str(doc.get("reason") or reason)
            message = str(doc.get("message") or "")
    return status, reason, message or reason or f"HTTP {status}"


def translate(exc: Any, what: str) -> BackendError:
    """Map an ApiException to the backend error a caller can branch on."""
    status, reason, message = error_detail(exc)
    if status == 404:
        return NotFound(f"{what} not found")
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists(f"{what} already exists")
    if status == 409:
        return Conflict(f"{what} was changed by someone else meanwhile: {message}")
    if status in (401, 403):
        return BackendError(
            f"the Kubernetes API server refused access to {what} (HTTP {status}: {message}); check the "
            "kubeconfig credentials, or the Role and RoleBinding of the ServiceAccount (deploy/rbac.yaml)"
        )
    if status == 422:
        return BackendError(f"the Kubernetes API server rejected {what}: {message}")
    return BackendError(f"Kubernetes API error on {what} (HTTP {status}): {message}")
