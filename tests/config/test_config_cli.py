"""Every command that reads the config refuses a bad one the same way: exit 2, file:line:column, the key and
the fix, and nothing done (no state directory created, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main

BAD = "engine:\n  state_dir: state\n  kill_grace_seconds: soon\n"

COMMANDS = [
    ["job", "list"],
    ["job", "show", "job-a"],
    ["job", "delete", "job-a"],
    ["task", "list"],
    ["graph", "job-a"],
    ["diff", "src"],
    ["sync", "src"],
    ["status", "src"],
    ["watch", "src"],
    ["engine", "status"],
    ["engine", "run", "--until-idle"],
    ["approvals", "list"],
    ["approve", "job-a", "--domain", "bob"],
    ["serve"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_a_bad_config_exits_2_with_position_key_and_fix(tmp_path: Path, args: list[str]) -> None:
    config = tmp_path / "kgitops.yaml"
    config.write_text(BAD, encoding="utf-8")
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{config}:3:23: `engine.kill_grace_seconds` must be a number" in result.output
    assert "e.g. `kill_grace_seconds: 5`" in result.output
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["watch", "src", "--status-interval", "-5"],
        ["watch", "src", "--poll-interval", "0"],
        ["watch", "src", "--resync-interval", "100000"],
        ["watch", "src", "--debounce", "-1"],
        ["engine", "run", "--kill-grace", "-1"],
    ],
)
def test_flags_have_the_ranges_of_the_settings(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 2, result.output
    assert "is not in the range" in result.output or "is not a valid float" in result.output
    assert not (tmp_path / "state").exists()


def test_the_example_in_docs_config_md_is_what_kgitops_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text(encoding="utf-8")
    config = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = doc.split("$ kgitops job list --config kgitops.yaml\n", 1)[1].split("$ echo $?", 1)[0]
    (tmp_path / "kgitops.yaml").write_text(config, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["job", "list", "--config", "kgitops.yaml"])
    assert result.exit_code == 2
    assert result.output == shown
