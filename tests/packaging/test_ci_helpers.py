"""The CI helpers teams use: the pre-commit hook (run for real with ``pre-commit try-repo``) and the composite
GitHub Action (checked as GitHub reads it: every input it uses is declared, and no input reaches a shell
unquoted)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "examples" / "jobs" / "job-best-effort-linear.yaml").read_text()


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(repo: Path, home: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    argv = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--files", *files]
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_pre_commit_hook_fails_a_bad_manifest_and_passes_a_good_one(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "manifests"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "good.yaml").write_text(GOOD)
    (repo / "bad.yaml").write_text(GOOD.replace("maxParallelism: 2", "maxParallelism: 1000"))
    _git(repo, "add", ".")

    good = _try_repo(repo, pre_commit_home, "kgitops-validate", "good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout

    bad = _try_repo(repo, pre_commit_home, "kgitops-validate", "good.yaml", "bad.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "bad.yaml:" in bad.stdout and "maxParallelism" in bad.stdout


def test_pre_commit_hooks_file_declares_both_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["kgitops-validate"]["entry"] == "kgitops validate"
    assert hooks["kgitops-validate"]["language"] == "python"
    assert hooks["kgitops-validate-all"]["pass_filenames"] is False


def test_action_uses_only_declared_inputs_and_never_interpolates_them_into_a_shell() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    declared = set(action["inputs"])
    steps = action["runs"]["steps"]
    used: set[str] = set()
    for step in steps:
        text = yaml.safe_dump(step)
        used |= set(re.findall(r"inputs\.([a-z-]+)", text))
        if "run" in step:
            assert step.get("shell") == "bash"
            assert "${{" not in step["run"], f"an expression inside a shell script: {step['run']!r}"
    assert used <= declared, used - declared
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'pip" install -q "$GITHUB_ACTION_PATH"' in runs  # installs from its own checkout, no index
    assert "kgitops validate --output github" in runs
    assert '-o markdown >> "$GITHUB_STEP_SUMMARY"' in runs


def test_example_workflows_install_kgitops_as_the_docs_say() -> None:
    """No `pip install kgitops` (it is not on the package index): the examples use the action."""
    for path in [*(ROOT / "examples").rglob("*.yml"), ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        text = path.read_text()
        assert not re.search(r"pip install kgitops\b(?![-\w])", text), path
