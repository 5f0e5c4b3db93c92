"""Inventories live in the cluster, one ConfigMap per source, so that a restarted (or moved) ``kgitops watch``
still knows what it created and may prune."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s_client

from reconciler.backends.base import AlreadyExists, BackendError, Conflict, NotFound
from reconciler.backends.k8s.errors import Request
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


Call = Callable[..., Any]  # KubernetesBackend._call: (api function, Request, *args) -> the answer


class InventoryMap:
    """The inventory ConfigMap of one source in ``namespace``, read and written through ``call`` (the
    backend's retrying, error-naming call)."""

    def __init__(self, core: k8s_client.CoreV1Api, call: Call, namespace: str, source_id: str) -> None:
        self.core = core
        self.call = call
        self.namespace = namespace
        self.source_id = source_id
        self.name = configmap_name(source_id)

    def _request(self, verb: str) -> Request:
        what = f"ConfigMap/{self.namespace}/{self.name}"
        return Request(verb, "configmaps", "", self.namespace, self.name, what)

    def _read(self) -> Any:
        read = self.core.read_namespaced_config_map
        return self.call(read, self._request("get"), self.name, self.namespace)

    def read(self) -> set[ObjectRef]:
        """The refs recorded; empty when the ConfigMap does not exist yet."""
        try:
            return decode(self.name, self._read().data)
        except NotFound:
            return set()

    def edit(self, change: Callable[[set[ObjectRef]], set[ObjectRef]], attempts: int) -> None:
        """Apply ``change`` to the recorded refs: read-modify-write guarded by resourceVersion, created when
        missing, tried again on a conflict up to ``attempts`` times (then Conflict)."""
        for _attempt in range(attempts):
            try:
                cm = self._read()
            except NotFound:
                body = k8s_client.V1ConfigMap(
                    metadata=k8s_client.V1ObjectMeta(
                        name=self.name, namespace=self.namespace, labels=dict(MANAGED_BY)
                    ),
                    data=encode(self.source_id, change(set())),
                )
                try:
                    create = self.core.create_namespaced_config_map
                    self.call(create, self._request("create"), self.namespace, body)
                    return
                except AlreadyExists:
                    continue
            data = encode(self.source_id, change(decode(self.name, cm.data)))
            if cm.data == data:
                return
            cm.data = data
            try:
                replace = self.core.replace_namespaced_config_map
                self.call(replace, self._request("update"), self.name, self.namespace, cm)
                return
            except Conflict:
                continue
        raise Conflict(f"ConfigMap/{self.namespace}/{self.name} kept changing underneath kgitops; try again")
