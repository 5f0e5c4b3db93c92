"""The simulate page (docs/simulate.md) is true: its files and commands run, the output shown is exact."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main

PAGE = Path(__file__).resolve().parents[2] / "docs" / "simulate.md"


def page() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("# Simulating a job\n")
    return text


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def run(cwd: Path, command: str, code: int = 0) -> str:
    args = shlex.split(command)
    assert args[0] == "kgitops"
    args = [str(cwd / a) if a.endswith(".yaml") else a for a in args[1:]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result.stdout


def test_engine_docs_simulate_examples(tmp_path: Path) -> None:
    sim = page()
    for body in blocks(sim, "yaml"):
        name = body.splitlines()[0].removeprefix("# ").strip()
        (tmp_path / name).write_text(body, encoding="utf-8")
    assert (tmp_path / "job.yaml").is_file() and (tmp_path / "events.yaml").is_file()
    shown = blocks(sim, "text")
    assert shown
    for body in shown:
        first, _, expected = body.partition("\n")
        assert first.startswith("$ kgitops simulate")
        # the page says so: a simulation whose job ends Failed exits 1
        assert run(tmp_path, first.removeprefix("$ "), 1 if "--fail" in first else 0) == expected
    commands = [
        line for body in blocks(sim, "sh") for line in body.splitlines() if line.startswith("kgitops")
    ]
    assert commands
    for command in commands:
        out = run(tmp_path, command)
        assert out.strip()
