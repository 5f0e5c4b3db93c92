"""The real-cluster tier decides for itself (tests/conftest.py): without ../shared/tools/k8s, or when its `up`
fails, the real-server tests skip with the reason; with KGITOPS_REQUIRE_REAL_K8S=1 (CI) that is a failure.
Each case runs pytest on a scratch repository laid out like this one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_tier(tmp_path: Path, up_script: str | None, **env: str) -> str:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "conftest.py", repo / "tests" / "conftest.py")
    (repo / "tests" / "test_uses_the_cluster.py").write_text(
        "def test_it(real_k8s):\n    assert real_k8s.kubeconfig\n", encoding="utf-8"
    )
    if up_script is not None:
        up = tmp_path / "shared" / "tools" / "k8s" / "up"
        up.parent.mkdir(parents=True)
        up.write_text(up_script, encoding="utf-8")
        up.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KGITOPS_TEST_", "KGITOPS_REQUIRE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
        cwd=repo,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout


def test_without_shared_tools_the_real_tier_skips_naming_what_is_missing(tmp_path: Path) -> None:
    out = run_tier(tmp_path, None)
    assert "1 skipped" in out
    assert f"no real Kubernetes API server: {tmp_path}/shared/tools/k8s/up not found" in out


def test_ci_turns_the_skip_into_a_failure(tmp_path: Path) -> None:
    out = run_tier(tmp_path, None, KGITOPS_REQUIRE_REAL_K8S="1")
    assert "1 error" in out and "KGITOPS_REQUIRE_REAL_K8S=1 requires the real-cluster tier" in out


def test_a_failing_up_skips_with_its_own_words(tmp_path: Path) -> None:
    out = run_tier(tmp_path, "#!/bin/sh\necho 'build failed: run build to see why'\nexit 1\n")
    assert "1 skipped" in out and "failed (exit 1; it needs root and apt): build failed" in out


def test_up_runs_once_and_its_kubeconfigs_are_used(tmp_path: Path) -> None:
    script = (
        "#!/bin/sh\necho started >> \"$(dirname \"$0\")/runs\"\n"
        "echo KGITOPS_TEST_KUBECONFIG=/k/a\necho KGITOPS_K8S_SA_KUBECONFIG=/k/sa\n"
    )
    test = (
        "def test_%s(real_k8s):\n"
        "    assert [real_k8s.kubeconfig, real_k8s.sa_kubeconfig] == ['/k/a', '/k/sa']\n"
    )
    repo_tests = tmp_path / "repo" / "tests"
    repo_tests.mkdir(parents=True)
    (repo_tests / "test_more.py").write_text(test % "a" + test % "b", encoding="utf-8")
    out = run_tier(tmp_path, script)
    assert "3 passed" in out, out
    assert (tmp_path / "shared" / "tools" / "k8s" / "runs").read_text(encoding="utf-8") == "started\n"
