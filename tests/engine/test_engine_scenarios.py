"""Every ``kind: simulate`` scenario of ../shared/reference/scenarios.yaml through ``kgitops simulate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SCENARIOS_FILE = SHARED / "reference" / "scenarios.yaml"


def _scenarios() -> list[dict[str, Any]]:
    if not SCENARIOS_FILE.is_file():
        return []
    data = yaml.safe_load(SCENARIOS_FILE.read_text(encoding="utf-8"))
    return [s for s in data["scenarios"] if s["kind"] == "simulate"]


SCENARIOS = _scenarios()


def run_scenario(tmp_path: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(scenario["manifest"]), encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text(yaml.safe_dump(scenario.get("events") or []), encoding="utf-8")
    args = ["simulate", str(manifest), "--events", str(events), "-o", "json"]
    for alias, phase in (scenario.get("given") or {}).items():
        args += ["--given", f"{alias}={phase}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    # exit 1 exactly when the job ends Failed
    assert result.exit_code == (1 if out["steps"][-1]["phase"] == "Failed" else 0), result.output
    return out


@pytest.mark.skipif(not SCENARIOS, reason=f"reference scenarios not found at {SCENARIOS_FILE}")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_engine_reference_scenario(tmp_path: Path, scenario: dict[str, Any]) -> None:
    out = run_scenario(tmp_path, scenario)
    assert out["job"] == scenario["manifest"]["metadata"]["name"]
    expect = scenario["expect"]
    assert len(out["steps"]) == len(scenario.get("events") or []) + 1
    for i, step in enumerate(expect.get("steps", [])):
        for key, value in step.items():
            assert out["steps"][i][key] == value, f"step {i} {key}: {out['steps'][i]}"
    if "never_created" in expect:
        assert sorted(out["never_created"]) == sorted(expect["never_created"])


def test_engine_scenarios_are_all_there() -> None:
    if not SCENARIOS:
        pytest.skip("reference material absent")
    assert len(SCENARIOS) >= 30
