"""deploy/rbac.yaml as data: what it grants, applying it to a real API server for the ServiceAccount tests,
and the Kubernetes authorization attributes (API group, resource, verb) of a request the stand-in logged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes.dynamic import DynamicClient

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
FIELD_MANAGER = "kgitops-tests"

Grant = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)

_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)(?:/namespaces/[^/]+)?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[a-z]+))?$"
)


def deploy_docs(*files: str) -> list[dict[str, Any]]:
    """The objects of deploy/*.yaml (or of the given files), kustomization.yaml aside."""
    paths = [DEPLOY / f for f in files] if files else sorted(DEPLOY.glob("*.yaml"))
    out: list[dict[str, Any]] = []
    for path in paths:
        if path.name != "kustomization.yaml":
            out.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return out


def granted() -> set[Grant]:
    """Every (apiGroup, resource, verb) the Role and the ClusterRole of deploy/rbac.yaml grant."""
    out: set[Grant] = set()
    for doc in deploy_docs("rbac.yaml"):
        if doc["kind"] in ("Role", "ClusterRole"):
            for rule in doc["rules"]:
                groups, resources = rule["apiGroups"], rule["resources"]
                out |= {(g, r, v) for g in groups for r in resources for v in rule["verbs"]}
    return out


def attributes(method: str, path: str, query: dict[str, str]) -> Grant:
    """A request's authorization attributes (Kubernetes docs, "Authorization Overview": request verbs)."""
    m = _PATH.match(path)
    assert m, f"not a resource request: {path}"
    resource = m["plural"] + (f"/{m['sub']}" if m["sub"] else "")
    named = m["name"] is not None
    if method == "GET":
        verb = "get" if named else ("watch" if query.get("watch") in ("true", "1") else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method) or (
            "delete" if named else "deletecollection"
        )
    return m["group"] or "", resource, verb


def apply_rbac(api: k8s_client.ApiClient) -> list[dict[str, Any]]:
    """Server-side apply deploy/rbac.yaml as the given (admin) client; returns the objects applied."""
    dyn = DynamicClient(api)
    docs = [d for d in deploy_docs("rbac.yaml") if d["kind"] in RBAC_KINDS]
    for doc in docs:
        res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        dyn.server_side_apply(res, body=doc, field_manager=FIELD_MANAGER, force_conflicts=True)
    return docs
