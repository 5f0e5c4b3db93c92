"""`kgitops diff -o markdown --comment` keeps one plan comment on the pull request, and `kgitops watch
--webhook-listen` refuses a setup that could not work, as a user runs them (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitops.gitops_support import Repo, appimage_doc, job_doc, write_config

from reconciler.approvals.digest import job_digest
from reconciler.approvals.records import record_path
from reconciler.forge import MARKER

from .standin import StandInForge


def kgitops(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def test_diff_comment_creates_then_edits_one_comment_with_plan_dag_findings_and_approvers(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a", ("psi", "train")),
                 "jobs/broken.yaml": "kind: KusciaJob\nmetadata: {name: broken}\nspec: [\n"})  # fmt: skip
    forge_cfg = "forge:\n  kind: github\n  repository: example-org/jobs\n  token_env: TEST_FORGE_TOKEN\n"
    trust = "approvals:\n  domains:\n    bob:\n      emails: [author@example.com]\n"
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state", forge_cfg + trust)
    with StandInForge() as forge:
        args = ["diff", "--config", cfg, "--git", repo.path, "-o", "markdown", "--comment"]
        args += ["--pull-request", "7", "--forge-url", forge.url]
        first = kgitops(*args, env={"TEST_FORGE_TOKEN": "t0ken"})
        assert first.returncode == 1, first.stderr  # differences: the diff's own exit code stands
        assert "plan comment created on pull request #7" in first.stderr
        repo.commit({"jobs/job-b.yaml": job_doc("job-b")})
        second = kgitops(*args, env={"TEST_FORGE_TOKEN": "t0ken"})
        assert "plan comment updated on pull request #7" in second.stderr, second.stderr
        [comment] = forge.state.comments[7]
        body = comment["body"]
        assert body.startswith(MARKER)
        assert "`job-a`** will run" in body and "`job-b`** will run" in body
        assert "```mermaid" in body
        assert "#### Validation findings" in body and "jobs/broken.yaml" in body
        assert "#### Still to approve" in body and "- `job-a`: bob" in body
        assert "- `job-b`: bob" in body
        assert "t0ken" not in first.stdout + first.stderr + second.stdout + second.stderr
        # bob approves job-a in Git (a record by a committer his domain trusts): the list follows
        spec = job_doc("job-a", ("psi", "train"))["spec"]
        decision = {
            "job": "job-a",
            "domain": "bob",
            "decision": "Approve",
            "jobSpecDigest": job_digest("job-a", spec),
        }
        record = {
            "apiVersion": "kgitops.io/v1alpha1",
            "kind": "JobApproval",
            "metadata": {"name": "job-a-bob"},
        }
        record["spec"] = decision
        repo.commit({record_path("approvals", "bob", "job-a"): record}, "bob approves job-a")
        third = kgitops(*args, env={"TEST_FORGE_TOKEN": "t0ken"})
        assert "plan comment updated" in third.stderr, third.stderr
        [comment] = forge.state.comments[7]
        assert "- `job-a`: bob" not in comment["body"] and "- `job-b`: bob" in comment["body"]


def test_diff_comment_failure_is_a_warning_and_the_diff_stands(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    forge_cfg = "forge:\n  kind: github\n  repository: example-org/jobs\n  token_env: TEST_FORGE_TOKEN\n"
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state", forge_cfg)
    with StandInForge() as forge:
        args = [
            "diff",
            "--config",
            cfg,
            "--git",
            repo.path,
            "-o",
            "markdown",
            "--comment",
            "--pull-request",
            "7",
        ]
        done = kgitops(*args, "--forge-url", forge.url, env={"TEST_FORGE_TOKEN": "wrong-token-value"})
    assert done.returncode == 1 and "kgitops plan" in done.stdout
    assert (
        "warning: the plan comment was not posted: GET /repos/example-org/jobs/issues/7/comments"
        in done.stderr
    )
    assert "HTTP 401 Bad credentials" in done.stderr and "wrong-token-value" not in done.stderr
    unset = kgitops(*args, env={"TEST_FORGE_TOKEN": ""})
    assert "forge.token: the environment variable TEST_FORGE_TOKEN is not set or empty" in unset.stderr


def test_watch_webhook_needs_a_secret_and_a_git_source(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc()})
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    done = kgitops("watch", "--config", cfg, "--git", repo.path, "--webhook-listen", "127.0.0.1:0")
    assert done.returncode == 2
    assert "error: webhook: webhook.secret: a webhook receiver needs a shared secret" in done.stderr
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state", "webhook:\n  secret_env: NOPE_UNSET\n")
    done = kgitops("watch", "--config", cfg, "--git", repo.path, "--webhook-listen", "127.0.0.1:0")
    assert "the environment variable NOPE_UNSET is not set or empty" in done.stderr
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state", "webhook:\n  secret: x\n")
    done = kgitops("watch", "--config", cfg, tmp_path / "repo", "--webhook-listen", "127.0.0.1:0")
    assert "--webhook-listen needs a Git source" in done.stderr
    assert "Traceback" not in done.stderr
