"""Output formats as their consumers read them: terminals, tools (json), CI reports (junit), GitHub."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from helpers_validate import APPIMAGE, JOB

from reconciler.cli import main


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(APPIMAGE)
    (tmp_path / "bad.yaml").write_text(JOB.replace("maxParallelism: 2", "maxParallelism: 0"))
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.output


def test_text_lines_summary_and_colour(tmp_path: Path) -> None:
    code, out = _run(str(_repo(tmp_path)))
    assert code == 1
    lines = out.splitlines()
    assert (
        lines[0]
        == f"{tmp_path}/bad.yaml:9:19: error SCHEMA004 `spec.maxParallelism` must be at least 1, not 0"
    )
    assert lines[1].startswith(f"{tmp_path}/broken.yaml:2:1: error YAML001 YAML syntax error")
    assert lines[-1] == "invalid: 3 files, 2 objects; 2 errors, 0 warnings"
    coloured = CliRunner().invoke(main, ["validate", "--color", str(tmp_path)], color=True).output
    assert "\033[31merror\033[0m" in coloured


def test_json_shape(tmp_path: Path) -> None:
    code, out = _run("--output", "json", str(_repo(tmp_path)))
    data = json.loads(out)
    assert code == 1 and data["version"] == 1
    assert data["summary"] == {
        "files": 3,
        "objects": 2,
        "errors": 2,
        "warnings": 0,
        "notes": 0,
        "valid": False,
    }
    first = data["findings"][0]
    assert first == {
        "file": f"{tmp_path}/bad.yaml",
        "line": 9,
        "column": 19,
        "severity": "error",
        "rule": "SCHEMA004",
        "message": "`spec.maxParallelism` must be at least 1, not 0",
        "kind": "KusciaJob",
        "namespace": "cross-domain",
        "name": "psi-split",
    }
    assert data["findings"][1]["kind"] == "" and data["findings"][1]["rule"] == "YAML001"


def test_junit_one_case_per_object_and_per_broken_file(tmp_path: Path) -> None:
    _, out = _run("-o", "junit", str(_repo(tmp_path)))
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {
        "AppImage/secretflow-image",
        "KusciaJob/cross-domain/psi-split",
        f"file {tmp_path}/broken.yaml",
    }
    assert cases["AppImage/secretflow-image"].find("failure") is None
    failure = cases["KusciaJob/cross-domain/psi-split"].find("failure")
    assert failure is not None and failure.get("type") == "SCHEMA004"
    assert suite.get("failures") == "2" and suite.get("tests") == "3"


def test_github_workflow_commands_escape_their_data(tmp_path: Path) -> None:
    (tmp_path / "a,b.yaml").write_text(JOB.replace("maxParallelism: 2", "maxParallelism: 0"))
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    code, out = _run("--output", "github", str(tmp_path))
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == (
        f"::error file={tmp_path}/a%2Cb.yaml,line=9,col=19,title=SCHEMA004::"
        "`spec.maxParallelism` must be at least 1, not 0"
    )
    notice = f"::notice file={tmp_path}/other.yaml,line=2,col=7,title=KIND001::kind 'ConfigMap'"
    assert any(line.startswith(notice) for line in lines)
    code, _ = _run("--output", "github", "--reject-unknown-kinds", str(tmp_path / "other.yaml"))
    assert code == 1


def test_jobs_give_the_same_report(tmp_path: Path) -> None:
    for i in range(80):
        (tmp_path / f"job-{i:03d}.yaml").write_text(JOB.replace("psi-split", f"job-{i:03d}"))
    (tmp_path / "job-050.yaml").write_text(
        JOB.replace("psi-split", "job-050").replace("alias: split", "alias: psi")
    )
    serial = _run("-o", "json", str(tmp_path))
    parallel = _run("-o", "json", "--workers", "2", str(tmp_path))
    assert serial == parallel and serial[0] == 1
