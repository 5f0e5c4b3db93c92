"""Every command and the SDK example of the "Operating jobs" page (docs/jobs.md) run, each against an engine
state in which it applies (a fresh one per command) and succeed; the outputs shown are the ones printed."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from ops_fixtures import add_apps, config_text, job_manifest, make_backend, put_job

from reconciler.backends.local import LocalBackend
from reconciler.cli import main
from reconciler.model import ObjectRef

PAGE = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"


def _section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("# Operating jobs\n")
    return text


def _commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", _section(), re.S):
        for line in block.splitlines():
            if not line.startswith("kgitops "):
                continue
            words = shlex.split(line, comments=True)
            cut = next((i for i, w in enumerate(words) if w in ("|", ">", ">>")), len(words))
            commands.append(words[1:cut])
    return commands


COMMANDS = _commands()

# (group, verb) -> the phase job-psi must be in for the command to apply
PHASE = {
    ("job", "suspend"): "Running",
    ("job", "stop"): "Running",
    ("job", "cancel"): "Running",
    ("job", "approve"): "AwaitingApproval",
    ("job", "reject"): "AwaitingApproval",
    ("job", "update"): "Pending",
    ("job", "create"): None,
}


def _prepare(tmp_path: Path, key: tuple[str, str]) -> LocalBackend:
    backend = make_backend(tmp_path / "state")
    (tmp_path / "kgitops.yaml").write_text(config_text(backend.state_dir))
    (tmp_path / "job-psi.yaml").write_text(yaml.safe_dump(job_manifest("job-psi")))
    add_apps(backend)
    phase = PHASE.get(key, "Failed")
    if phase is not None:
        put_job(backend, "job-psi", phase, {"psi": "Failed"} if phase == "Failed" else {},
                labels={"team": "risk", "stale": "yes"})  # fmt: skip
    return backend


def test_the_docs_show_every_verb() -> None:
    shown = {tuple(c[:2]) for c in COMMANDS if c[0] in ("job", "task")} | {
        ("graph",) for c in COMMANDS if c[0] == "graph"
    }
    verbs = {"create", "list", "show", "logs", "suspend", "restart", "stop", "cancel", "approve", "reject"}
    verbs |= {"update", "delete"}
    assert {("job", v) for v in verbs} | {("task", "list"), ("task", "show"), ("graph",)} <= shown


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_docs_command_runs(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KGITOPS_CONFIG", raising=False)
    backend = _prepare(tmp_path, (args[0], args[1] if len(args) > 1 else ""))
    try:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    finally:
        for job in backend.list("KusciaJob"):
            backend.delete(job.ref)
        backend.close()


def test_docs_error_example_is_what_is_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = re.search(r"```\n\$ kgitops (job suspend job-psi)\n(error: .*)\n```", _section())
    assert example
    monkeypatch.chdir(tmp_path)
    backend = _prepare(tmp_path, ("job", "show"))  # Failed
    try:
        result = CliRunner().invoke(main, example.group(1).split())
        assert result.exit_code == 1 and result.output == example.group(2) + "\n"
    finally:
        backend.close()


def test_docs_ascii_graph_is_what_is_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = re.search(r"```\n(job-psi\n└── .*?)```", _section(), re.S)
    assert example
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    backend = _prepare(tmp_path, ("graph", ""))
    try:
        assert CliRunner().invoke(main, ["graph", "job-psi"]).stdout == example.group(1)
    finally:
        backend.close()


def test_docs_sdk_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(r"```python\n(.*?)```", _section(), re.S)
    assert code
    monkeypatch.chdir(tmp_path)
    backend = _prepare(tmp_path, ("job", "suspend"))  # Running
    for i in range(25):  # more than one page of 20
        put_job(backend, f"job-{i:02d}", "Running", labels={"team": "risk"})
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code.group(1), str(PAGE), "exec"), {})
        lines = out.getvalue().splitlines()
        assert len([line for line in lines if line.startswith("job-")]) == 26
        job = backend.get(ObjectRef.of("KusciaJob", "job-psi"))
        assert job is not None and job.status["phase"] == "Suspended"
        assert "stale" not in job.labels and job.annotations["note"] == "checked"
    finally:
        for job in backend.list("KusciaJob"):
            backend.delete(job.ref)
        backend.close()
