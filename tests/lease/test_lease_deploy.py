"""deploy/ runs two replicas that elect a leader: the flags, the identity, and the Role's Lease verbs."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.cli.gitops import watch

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def manifests(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")) if d]


def test_two_replicas_run_watch_with_leader_election_and_their_pod_name_as_identity() -> None:
    (deployment,) = manifests("deployment.yaml")
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "watch" and "--leader-elect" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # every flag the Deployment passes exists on `kgitops watch`
    known = {opt for p in watch.params for opt in (*p.opts, *p.secondary_opts)}
    assert {a for a in container["args"][1:] if a.startswith("--")} <= known


def test_the_role_grants_the_lease_verbs_election_uses_and_no_more() -> None:
    role = next(d for d in manifests("rbac.yaml") if d["kind"] == "Role")
    rules = [r for r in role["rules"] if "coordination.k8s.io" in r["apiGroups"]]
    assert len(rules) == 1
    assert rules[0]["apiGroups"] == ["coordination.k8s.io"] and rules[0]["resources"] == ["leases"]
    assert sorted(rules[0]["verbs"]) == ["create", "get", "update"]
