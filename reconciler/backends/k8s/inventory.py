"""Inventories live in the cluster, one ConfigMap per source, so that a restarted (or moved) ``kgitops watch``
still knows what it created and may prune."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from reconciler.backends.base import BackendError
from reconciler.kuscia.labels import LABEL_INVENTORY
from reconciler.model import ObjectRef

INVENTORY_LABEL = LABEL_INVENTORY
MANAGED_BY = {"app.kubernetes.io/managed-by": "kgitops", INVENTORY_LABEL: "true"}


def configmap_name(source_id: str) -> str:
    """A valid, stable object name for any source id (ids may hold URLs, slashes, capitals)."""
    return source_object_name("kgitops-inventory", source_id)


def source_object_name(prefix: str, source_id: str) -> str:
    """``<prefix>-<slug>-<digest>``: a valid, stable object name (DNS subdomain) for one source's object."""
    slug = re.sub(r"[^a-z0-9]+", "-", source_id.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(source_id.encode()).hexdigest()[:10]
    return f"{prefix}-{slug}-{digest}" if slug else f"{prefix}-{digest}"


def encode(source_id: str, refs: set[ObjectRef]) -> dict[str, str]:
    rows = [{"kind": r.kind, "namespace": r.namespace, "name": r.name} for r in sorted(refs)]
    return {"source": source_id, "refs": json.dumps(rows, indent=0)}


def decode(name: str, data: dict[str, Any] | None) -> set[ObjectRef]:
    try:
        rows = json.loads((data or {}).get("refs") or "[]")
        return {ObjectRef(str(r["kind"]), str(r.get("namespace") or ""), str(r["name"])) for r in rows}
    except (ValueError, TypeError, KeyError) as exc:
        raise BackendError(
            f"the inventory ConfigMap {name} is damaged ({exc}); delete it to start a fresh inventory"
        ) from None
