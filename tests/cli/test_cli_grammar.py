"""One command grammar: the same flag means the same thing on every command, errors have one prefix, and
``kgitops --help`` needs no command module. Real processes and the real embedded engine."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from gitops.gitops_support import appimage_doc, job_doc, write, write_config

from reconciler.cli import COMMANDS, SUMMARIES, _load, main

REPO = Path(__file__).resolve().parents[2]


def _commands() -> Iterator[tuple[str, click.Command]]:
    """Every leaf command, with its path (``job stop``)."""
    stack: list[tuple[str, click.Command]] = [(name, _load(name)) for name in COMMANDS]
    while stack:
        path, cmd = stack.pop()
        if isinstance(cmd, click.Group):  # the group's own way to its commands: some load on first use
            ctx = click.Context(cmd)
            found = [(n, cmd.get_command(ctx, n)) for n in cmd.list_commands(ctx)]
            stack += [(f"{path} {n}", c) for n, c in found if c is not None]
        else:
            yield path, cmd


def _options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]


def kgitops(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_help_summaries_are_the_commands_own() -> None:
    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        assert _load(name).get_short_help_str(limit=1000) == SUMMARIES[name], name


def test_job_help_lists_the_actions_with_their_own_help_without_loading_them() -> None:
    from reconciler.cli.job import ACTIONS
    from reconciler.cli.job_actions import COMMANDS as JOB_ACTIONS

    assert set(ACTIONS) == set(JOB_ACTIONS)
    for name, command in JOB_ACTIONS.items():
        assert command.help == ACTIONS[name], name
    code = "import sys; from reconciler.cli import main\n"
    code += "try: main(['job', '--help'])\nexcept SystemExit: pass\n"
    code += "print('reconciler.cli.job_actions' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "update   Change a job's priority" in done.stdout
    assert done.stdout.splitlines()[-1] == "False"


def test_help_imports_no_command_module() -> None:
    code = "import sys; from reconciler.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
    code += "print(sorted(m for m in sys.modules if m.startswith('reconciler.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [m for m in done.stdout.splitlines()[-1].strip("[]").replace("'", "").split(", ") if m]
    # the error handler and the exit-code table it exits with; no command module
    assert loaded == [
        "reconciler.cli",
        "reconciler.cli.exitcodes",
        "reconciler.cli.handler",
        "reconciler.errors",
    ]


def test_each_short_flag_has_one_meaning_everywhere() -> None:
    meaning: dict[str, set[str]] = {}
    for _path, cmd in _commands():
        for opt in _options(cmd):
            for short in (o for o in opt.opts if re.fullmatch(r"-[a-zA-Z]", o)):
                meaning.setdefault(short, set()).add(max(opt.opts, key=len))
    assert meaning["-o"] == {"--output"} and meaning["-j"] == {"--job"} and meaning["-n"] == {"--namespace"}
    # -f is --file (job create) and --follow (job logs), as in kubectl (create -f, logs -f)
    assert {s: m for s, m in meaning.items() if len(m) > 1} == {"-f": {"--file", "--follow"}}


def test_output_formats_are_chosen_with_dash_o_only() -> None:
    for path, cmd in _commands():
        for opt in _options(cmd):
            assert not {"--format", "--json"} & set(opt.opts), path


def test_durations_are_read_the_same_way_everywhere() -> None:
    durations = {"--timeout", "--header-timeout", "--idle-timeout"}
    for path, cmd in _commands():
        for opt in _options(cmd):
            if durations & set(opt.opts):
                assert opt.type.name == "duration", (path, opt.opts)


def test_every_flag_an_error_message_suggests_exists_on_the_commands_that_can_print_it() -> None:
    with_backend = [(p, c) for p, c in _commands() if any("--backend" in o.opts for o in _options(c))]
    assert with_backend
    for path, cmd in with_backend:  # the kubernetes backend's errors suggest --kubeconfig and --context
        assert any("--context" in o.opts for o in _options(cmd)), path
        assert any("--kubeconfig" in o.opts for o in _options(cmd)), path
    cluster = {"diff", "sync", "status", "watch", "job list", "job show", "job stop", "task list", "serve"}
    assert cluster <= {p for p, _c in with_backend}
    for name in ("diff", "sync", "status", "watch", "validate"):  # held files suggest --max-file-size
        assert any("--max-file-size" in o.opts for o in _options(_load(name))), name


def test_the_cli_imports_only_the_sdk_presentation_config_and_errors() -> None:
    allowed = (
        "reconciler.sdk",
        "reconciler.render",
        "reconciler.output",
        "reconciler.config",
        "reconciler.errors",
    )
    allowed += ("reconciler.units", "reconciler.cli")
    for file in (REPO / "reconciler" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reconciler."):
                assert node.module.startswith(allowed), f"{file.name} imports {node.module}"


def test_usage_errors_and_failures_have_one_prefix(tmp_path: Path) -> None:
    usage = kgitops("job", "list", "--no-such-flag")
    assert usage.returncode == 2 and usage.stderr.startswith("Usage: ")
    assert "\nerror: No such option '--no-such-flag'.\n" in usage.stderr and "Error" not in usage.stderr
    assert "hint: see `python -m reconciler job list --help`" in usage.stderr
    missing = kgitops("validate", tmp_path / "nope")
    assert (
        missing.returncode == 2
        and missing.stderr == f"error: {tmp_path / 'nope'}: no such file or directory\n"
    )
    engine = kgitops("engine", "status", "--state-dir", tmp_path / "none")
    assert engine.returncode == 1 and engine.stderr.startswith("error: no engine state in ")
    assert "hint: pass --state-dir" in engine.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "repo", "apps/noop.yaml", appimage_doc())
    write(tmp_path / "repo", "jobs/job-a.yaml", job_doc("job-a", ("psi", "train")))
    write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    return tmp_path


def test_diff_honours_no_color_and_color(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["diff", str(project / "repo"), "--config", str(project / "kgitops.yaml")]
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[" in CliRunner().invoke(main, args, color=True).stdout
    assert "\x1b[" not in CliRunner().invoke(main, [*args, "--no-color"], color=True).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in CliRunner().invoke(main, args, color=True).stdout
    assert "\x1b[" in CliRunner().invoke(main, [*args, "--color"]).stdout


def test_status_json_has_real_values_and_job_stop_takes_a_duration(project: Path) -> None:
    cfg = project / "kgitops.yaml"
    assert kgitops("sync", project / "repo", "--config", cfg, "--wait", "--timeout", "2m").returncode == 0
    rows = json.loads(kgitops("status", project / "repo", "--config", cfg, "-o", "json").stdout)
    job = next(r for r in rows if r["name"] == "job-a")
    assert job["phase"] == "Succeeded" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*Z", job["created"])
    assert isinstance(job["ageSeconds"], int) and job["ageSeconds"] >= 0
    stop = kgitops("job", "stop", "job-a", "--config", cfg, "--timeout", "1m")
    assert stop.returncode == 1 and "stop is allowed only" in stop.stderr  # the duration was accepted
    bad = kgitops("job", "stop", "job-a", "--config", cfg, "--timeout", "soon")
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr
