"""deploy/: manifests parse, grant no more than kgitops uses, carry a config kgitops accepts, and the real API
server accepts every object as written (a server-side dry run)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from reconciler.backends.kubernetes import load_api_client
from reconciler.config import load_config

from .k8s_rbac import deploy_docs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def docs() -> list[dict]:
    out = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return out


def test_kustomization_lists_every_manifest() -> None:
    kust = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kust["resources"]) == sorted(
        p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_rbac_is_least_privilege() -> None:
    kinds = {d["kind"]: d for d in docs()}
    assert {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "ConfigMap",
        "Secret",
    } <= set(kinds)
    for role in (kinds["Role"], kinds["ClusterRole"]):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            assert not {"patch", "deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
    granted = {r for rule in kinds["ClusterRole"]["rules"] for r in rule["resources"]}
    assert granted == {"appimages"}  # cluster-wide only for the cluster-scoped kind
    configmap_rule = next(r for r in kinds["Role"]["rules"] if r["resources"] == ["configmaps"])
    assert "list" not in configmap_rule["verbs"] and "delete" not in configmap_rule["verbs"]


def test_deployment_runs_watch_with_the_config_and_git_secret(tmp_path: Path) -> None:
    by_kind = {d["kind"]: d for d in docs()}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kgitops"
    container = pod["containers"][0]
    assert container["args"][:1] == ["watch"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == by_kind["ConfigMap"]["metadata"]["name"]
    assert volumes["git"]["secret"]["secretName"] == by_kind["Secret"]["metadata"]["name"]

    config_file = tmp_path / "kgitops.yaml"
    config_file.write_text(by_kind["ConfigMap"]["data"]["kgitops.yaml"], encoding="utf-8")
    cfg = load_config(config_file)
    assert cfg.backend.kind == "kubernetes" and cfg.backend.kubernetes.in_cluster
    assert cfg.source.ssh_key.startswith("/etc/kgitops/git/")


def _dropped(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Fields of ``sent`` that ``stored`` lacks or holds differently (the API server drops unknown fields)."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [p for k, v in sent.items() for p in _dropped(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        pairs = enumerate(zip(sent, stored, strict=True))
        return [p for i, (a, b) in pairs for p in _dropped(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: {sent!r} became {stored!r}"]


def test_the_api_server_accepts_every_deploy_object_unchanged(real_k8s: Any) -> None:
    """A server-side dry run (dryRun=All) of every object in deploy/*.yaml: the API server's own schemas and
    admission decide, and nothing we wrote is dropped or rewritten (Kubernetes API concepts, "Dry-run")."""
    api = load_api_client(real_k8s.kubeconfig)
    dyn = DynamicClient(api)
    problems: list[str] = []
    for doc in deploy_docs():
        what = f"{doc['kind']}/{doc['metadata']['name']}"
        res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        try:
            stored = dyn.server_side_apply(
                res, body=doc, field_manager="kgitops-dry-run", force_conflicts=True, dry_run="All"
            ).to_dict()
        except ApiException as exc:
            problems.append(f"{what}: HTTP {exc.status} {exc.body}")
            continue
        sent = dict(doc)
        if doc["kind"] == "Secret":  # stringData is write-only: it is stored base64-encoded under data
            sent = {k: v for k, v in doc.items() if k != "stringData"}
            sent["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in doc["stringData"].items()}
        problems += [f"{what}{p}" for p in _dropped(sent, stored)]
    assert problems == []
    for doc in deploy_docs("deployment.yaml"):  # a dry run: nothing was created
        with pytest.raises(ApiException) as absent:
            k8s_client.AppsV1Api(api).read_namespaced_deployment(
                doc["metadata"]["name"], doc["metadata"]["namespace"]
            )
        assert absent.value.status == 404
    api.close()
