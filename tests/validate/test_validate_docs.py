"""The validate page (docs/validate.md) is executable: its files are written, its commands run, and the output
shown must be what the command prints (up to a `...` line). Its rule table lists exactly the rule ids."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.validate import RULES

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "validate.md"


def _section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("# Validating manifests")
    return text


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _section(), flags=re.S)


def _commands() -> list[tuple[str, list[str]]]:
    out = []
    for block in _blocks("console"):
        lines = block.splitlines()
        assert lines[0].startswith("$ kgitops ")
        out.append((lines[0][2:], lines[1:]))
    return out


@pytest.mark.parametrize(("command", "shown"), _commands(), ids=[c for c, _ in _commands()])
def test_docs_command_prints_what_the_page_shows(
    command: str, shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for block in _blocks("yaml"):
        first, _, body = block.partition("\n")
        if first.startswith("# jobs/"):
            target = tmp_path / first[2:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 1, result.output
    printed = result.output.splitlines()
    if "..." in shown:
        cut = shown.index("...")
        head, tail = shown[:cut], shown[cut + 1 :]
        assert printed[: len(head)] == head
        assert not tail or printed[-len(tail) :] == tail
    else:
        assert printed == shown


def test_docs_plain_commands_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers_validate import APPIMAGE, JOB

    (tmp_path / "jobs").mkdir()
    (tmp_path / "appimages").mkdir()
    (tmp_path / "jobs" / "job.yaml").write_text(JOB)
    (tmp_path / "appimages" / "image.yaml").write_text(APPIMAGE)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    both = runner.invoke(main, ["validate", "jobs/", "appimages/"])
    assert both.exit_code == 0 and both.output == "valid: 2 files, 2 objects; 0 errors, 0 warnings\n"
    piped = runner.invoke(main, ["validate", "-"], input=JOB)
    assert piped.exit_code == 0 and "XF003" in piped.output


def test_docs_workflow_example_is_the_shipped_file() -> None:
    shipped = (REPO / "examples" / "ci" / "validate-pr.yml").read_text(encoding="utf-8")
    assert shipped in _blocks("yaml")
    assert "uses: OWNER/kgitops@" in shipped  # the composite action at the root, which runs:
    assert "kgitops validate --output github" in (REPO / "action.yml").read_text(encoding="utf-8")


def test_docs_rule_table_lists_every_rule() -> None:
    listed = re.findall(r"^\| `([A-Z]+[0-9]+)` \| (error|warning|note) \|", _section(), flags=re.M)
    assert listed == [(r.id, r.severity.value) for r in RULES.values()]
