"""Commands that only look (job list/show, task list/show, graph, diff, status, approvals list) never create
state: no state directory, no SQLite file, no engine driver. They say which backend and state they read (first
line on stderr), and a state that does not exist reads as empty, with a note saying so (exit as for an empty
result)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
import yaml
from click.testing import CliRunner
from ops_fixtures import config_text, make_backend, put_job

from reconciler.cli import main
from reconciler.engine.driver import LOG_NAME, STARTING_NAME, driver_pid

JOB = {
    "apiVersion": "kuscia.secretflow/v1alpha1",
    "kind": "KusciaJob",
    "metadata": {"name": "job-a"},
    "spec": {
        "initiator": "alice",
        "tasks": [
            {
                "alias": "psi",
                "appImage": "ops-app",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
            }
        ],
    },
}


def kgitops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with manifests but no engine state (nothing was ever synced here)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "job-a.yaml").write_text(yaml.safe_dump(JOB), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KGITOPS_CONFIG", raising=False)
    monkeypatch.delenv("KGITOPS_STATE_DIR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def _reading(stderr: str, state: Path) -> list[str]:
    lines = stderr.splitlines()
    assert lines[0] == f"reading: local engine state {state} (no config file)", stderr
    assert lines[1].startswith(f"note: {state} holds no engine state yet (nothing has been synced or created")
    assert "pass --state-dir DIR or the --config FILE you synced with" in lines[1]
    return lines[2:]


@pytest.mark.parametrize(
    ("args", "code", "stdout"),
    [
        (["job", "list"], 0, "No jobs found.\n"),
        (["job", "list", "-o", "json"], 0, '{\n  "items": [],\n  "nextMarker": null\n}\n'),
        (["task", "list"], 0, "No tasks found.\n"),
        (["status", "src"], 0, None),
        (["diff", "src"], 1, None),  # everything would be created: a difference
    ],
)
def test_without_state_the_result_is_empty_and_nothing_is_created(
    empty: Path, args: list[str], code: int, stdout: str | None
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert _reading(result.stderr, empty / ".kgitops") == []
    if stdout is not None:
        assert result.stdout == stdout
    assert sorted(p.name for p in empty.iterdir()) == ["src"]


NAMED = [
    ["job", "show", "job-a"],
    ["job", "logs", "job-a"],
    ["task", "show", "job-a-psi"],
    ["graph", "job-a"],
]


@pytest.mark.parametrize("args", NAMED)
def test_without_state_a_named_object_is_not_found_and_nothing_is_created(
    empty: Path, args: list[str]
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    [error] = _reading(result.stderr, empty / ".kgitops")
    assert error.startswith("error: ") and "not found" in error
    assert sorted(p.name for p in empty.iterdir()) == ["src"]


def test_graph_of_a_file_reads_no_backend_without_state(empty: Path) -> None:
    result = CliRunner().invoke(main, ["graph", "src/job-a.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "psi" in result.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["src"]


def test_diff_of_a_git_url_without_state_clones_to_a_temporary_directory(empty: Path) -> None:
    remote = pygit2.init_repository(str(empty / "remote.git"), bare=True, initial_head="main")
    blob = remote.create_blob(yaml.safe_dump(JOB).encode())
    builder = remote.TreeBuilder()
    builder.insert("job-a.yaml", blob, pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    remote.create_commit("refs/heads/main", sig, sig, "jobs", builder.write(), [])
    done = kgitops("diff", (empty / "remote.git").as_uri(), cwd=empty)
    assert done.returncode == 1, done.stderr
    assert "job-a" in done.stdout
    _reading(done.stderr, empty / ".kgitops")
    assert sorted(p.name for p in empty.iterdir()) == ["remote.git", "src"]


def test_read_only_commands_never_start_a_driver_for_unfinished_work(tmp_path: Path) -> None:
    """A job that waits for the engine, no driver running, autostart on: looking at it starts nothing."""
    state = tmp_path / "state"
    backend = make_backend(state)
    try:
        put_job(backend, "job-a", "Running", {"psi": "Running"})
    finally:
        backend.close()
    config = tmp_path / "kgitops.yaml"
    config.write_text(config_text(state).replace("autostart: false", "autostart: true"), encoding="utf-8")
    (tmp_path / "src").mkdir()
    before = sorted(p.name for p in state.iterdir())
    looks = (["job", "list"], ["job", "show", "job-a"], ["task", "list"], ["status", "src"], ["diff", "src"])
    for args in looks:
        done = kgitops(*args, "--config", str(config), cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        assert done.stderr.splitlines()[0] == f"reading: local engine state {state} (config {config})"
        assert "note:" not in done.stderr
    assert driver_pid(state) is None
    assert not (state / LOG_NAME).exists() and not (state / STARTING_NAME).exists()
    # Nothing of a driver's is left behind: only the caches a plan may keep (``cache/``: the parse cache and
    # the plan base, derived data that speed up the next diff) and SQLite's own side files are new.
    assert sorted(
        p.name for p in state.iterdir() if not p.name.startswith("engine.db-") and p.name != "cache"
    ) == [n for n in before if not n.startswith("engine.db-")]


def test_approvals_list_says_what_it_reads_and_writes_nothing(empty: Path) -> None:
    repo = pygit2.init_repository(str(empty / "repo"), initial_head="main")
    sig = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    repo.create_commit("refs/heads/main", sig, sig, "empty", repo.TreeBuilder().write(), [])
    before = sorted(str(p.relative_to(empty)) for p in empty.rglob("*"))
    result = CliRunner().invoke(main, ["approvals", "list", "--repo", "repo"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"reading: approval records in approvals/ of {empty / 'repo'} at HEAD\n"
    assert result.stdout == "no approval records under approvals/\n"
    assert sorted(str(p.relative_to(empty)) for p in empty.rglob("*")) == before


def test_approvals_list_reads_the_configs_source_unless_repo_is_given(empty: Path) -> None:
    """`--config X` alone: the records of X's `source.path` (relative to X), not of the working directory."""
    repo = pygit2.init_repository(str(empty / "gitops"), initial_head="main")
    sig = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    repo.create_commit("refs/heads/main", sig, sig, "empty", repo.TreeBuilder().write(), [])
    (empty / "conf").mkdir()
    config = empty / "conf" / "kgitops.yaml"
    config.write_text("source:\n  path: ../gitops\n  git: true\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["approvals", "list", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"of {empty / 'gitops'} at HEAD" in result.stderr
    other = CliRunner().invoke(main, ["approvals", "list", "--config", str(config), "--repo", "src"])
    assert f"of {empty / 'src'} at HEAD" in other.stderr
