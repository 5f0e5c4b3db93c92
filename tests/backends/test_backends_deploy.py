"""deploy/: manifests parse, grant no more than kgitops uses, and carry a config kgitops accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.config import load_config

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
