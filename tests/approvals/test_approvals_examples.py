"""The approvals examples (config, CODEOWNERS template, GitHub workflow) stay consistent with the code."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml
from approvals_support import ALICE, EVENT, Repo, job_manifest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "approvals"


def test_approvals_example_config_loads() -> None:
    cfg = load_config(EXAMPLES / "kgitops.yaml")
    assert set(cfg.approvals.domains) == {"alice", "bob", "carol"}
    assert cfg.approvals.domains["bob"].require_signature is True
    assert cfg.approvals.domains["carol"].github_logins == ["carol-reviewer"]


def test_approvals_codeowners_covers_every_domain() -> None:
    owned = {
        line.split()[0]
        for line in (EXAMPLES / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for domain in load_config(EXAMPLES / "kgitops.yaml").approvals.domains:
        assert f"/approvals/{domain}/" in owned


def test_approvals_example_workflow_runs_the_command(repo: Repo, tmp_path: Path) -> None:
    flow = yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text())
    assert flow[True]["pull_request_review"]["types"] == ["submitted"]  # YAML 1.1 reads `on:` as True
    steps = flow["jobs"]["record"]["steps"]
    [step] = [s for s in steps if "from-github-event" in s.get("run", "")]
    assert step["run"] == 'kgitops approvals from-github-event "$GITHUB_EVENT_PATH"'
    # run that step as the workflow would: in the checkout, with the example config and a review by carol
    base = repo.commit({"README.md": "jobs\n"}, ALICE)
    head = repo.commit({"jobs/job-psi.yaml": job_manifest()}, ALICE, branch="add-psi")
    event = copy.deepcopy(EVENT)
    event["review"]["user"]["login"] = "carol-reviewer"
    event["pull_request"]["base"]["sha"], event["pull_request"]["head"]["sha"] = base, head
    event["review"]["commit_id"] = head
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    args = ["approvals", "from-github-event", str(path), "--repo", str(repo.path),
            "--config", str(EXAMPLES / "kgitops.yaml")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote approvals/carol/job-psi.yaml: Approve job job-psi for carol" in result.output
