"""Commands are imported only when run: `kgitops --help` still lists every command with its help, and
every command's own --help works in a fresh process (nothing it needs is left to another command's import)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import COMMANDS, _load, main


def _kgitops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command_with_its_help() -> None:
    done = _kgitops("--help")
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Commands:")[1]
    rows = {line.split()[0]: line.split(None, 1)[1] for line in listed.splitlines() if line.strip()}
    assert sorted(rows) == sorted(COMMANDS)
    for name, shown in rows.items():
        own = _load(name).get_short_help_str(limit=1000)
        assert own.startswith(shown.removesuffix("...").rstrip()), (name, shown, own)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_help_works_in_a_fresh_process(name: str) -> None:
    done = _kgitops(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ") and f" {name} [OPTIONS]" in done.stdout, done.stdout[:200]
    summary = _load(name).get_short_help_str(limit=1000)
    assert summary in " ".join(done.stdout.split())


def test_every_subcommand_help_works() -> None:
    for name in COMMANDS:
        command = _load(name)
        if not isinstance(command, click.Group):
            continue
        for sub in command.list_commands(click.Context(command)):  # also those loaded on first use
            result = CliRunner().invoke(main, [name, sub, "--help"])
            assert result.exit_code == 0, (name, sub, result.output)
            assert f" {name} {sub} [OPTIONS]" in result.output
