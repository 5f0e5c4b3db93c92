"""When leader election is on, and the errors of asking for it where it cannot work (no server needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import Config
from reconciler.sdk.election import leader_election_on


@pytest.mark.parametrize(
    ("kind", "enabled", "env", "on"),
    [
        ("kubernetes", None, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, True),  # in a Pod: replicas are likely
        ("kubernetes", None, {}, False),  # on a workstation: a plain watch
        ("local", None, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, False),
        ("kubernetes", False, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, False),
        ("kubernetes", True, {}, True),
    ],
)
def test_on_by_default_only_for_the_kubernetes_backend_in_a_pod(
    kind: str, enabled: bool | None, env: dict[str, str], on: bool
) -> None:
    cfg = Config()
    cfg.backend.kind = kind
    cfg.leader_election.enabled = enabled
    assert leader_election_on(cfg, env) is on


def run_watch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "reconciler", "watch", str(src), "--state-dir", str(tmp_path / "st"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_leader_election_on_the_local_backend_is_refused_with_the_fix(tmp_path: Path) -> None:
    done = run_watch(tmp_path, "--leader-elect")
    assert done.returncode == 2, done.stderr
    assert "error: leader election needs the kubernetes backend" in done.stderr
    assert "--backend kubernetes" in done.stderr and "Traceback" not in done.stderr


def test_durations_that_cannot_work_are_refused_with_the_rule(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"  # never contacted: the durations are checked first
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n",
        encoding="utf-8",
    )
    config = tmp_path / "kgitops.yaml"
    config.write_text(f"backend: {{kind: kubernetes, kubernetes: {{kubeconfig: {kubeconfig}}}}}\n")
    done = run_watch(
        tmp_path, "--config", str(config), "--leader-elect", "--leader-elect-lease-duration", "5",
        "--leader-elect-renew-deadline", "8",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "the lease duration (5 s) must be longer than the renew deadline (8 s)" in done.stderr
    assert "Traceback" not in done.stderr
