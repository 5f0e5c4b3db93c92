"""What a command costs at start-up is what it imports: ``kgitops --help``, ``kgitops job list`` and
``kgitops validate one.yaml`` each run in a fresh process, and the modules it loaded are checked afterwards
(``sys.modules``), without timing anything. Rich, pygit2, gRPC, jsonschema, the Kubernetes client,
prometheus_client and multiprocessing are for other commands; a module-level import that pulls one of them in
again fails here, and the figures themselves are printed by ``bench/ops_bench.py`` and
``bench/validate_bench.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.backends.local import LocalBackend
from reconciler.model import Resource
from reconciler.render.table import cell_len, render_table

# top-level packages no one of these three commands needs
HEAVY = ("rich", "pygit2", "grpc", "jsonschema", "kubernetes", "prometheus_client", "multiprocessing")

# runs the real entry point (`python -m reconciler`) in this process, then writes the loaded modules' names
PROBE = """
import json, runpy, sys
out, sys.argv = sys.argv[1], ["kgitops", *sys.argv[2:]]
try:
    runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"exit": code, "modules": sorted(sys.modules)}, f)
"""

JOB = {
    "apiVersion": "kuscia.secretflow/v1alpha1",
    "kind": "KusciaJob",
    "metadata": {"name": "job-a"},
    "spec": {
        "initiator": "alice",
        "tasks": [
            {
                "alias": "psi",
                "appImage": "app",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
            }
        ],
    },
}


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done, modules = _run_modules(tmp_path, *args)
    return done, {name.split(".")[0] for name in modules}


def _run_modules(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The command's output and the full names of the modules it loaded (the cache of checked config files
    in ``tmp_path/cache``)."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("KGITOPS_")}
        | {"NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    report = json.loads(out.read_text())
    assert report["exit"] in (0, None), (report["exit"], done.stderr)
    return done, set(report["modules"])


def _assert_none_of(loaded: set[str], names: tuple[str, ...]) -> None:
    assert not loaded & set(names), f"loaded but not needed: {sorted(loaded & set(names))}"


def test_help_loads_no_command_and_no_heavy_library(tmp_path: Path) -> None:
    done, loaded = _run(tmp_path, "--help")
    assert "Commands:" in done.stdout and "validate" in done.stdout
    _assert_none_of(loaded, (*HEAVY, "yaml", "sqlite3"))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    backend = LocalBackend(state, autostart=False)
    for name in ("job-a", "job-b"):
        backend.store.create(Resource.from_manifest({**JOB, "metadata": {"name": name}}))
    backend.close()
    return state


# what only the engine's writers and drivers, a job's full view (its tasks resolved) and the other commands
# need: a read-only `job list` table loads none of them
ENGINE_WRITERS = (
    "reconciler.engine.driver",  # the engine lock and the background driver
    "reconciler.engine.stage_commands",
    "reconciler.engine.pins",  # AppImage pins, written when a job is created
    "reconciler.backends.local_views",  # logs and `engine status`
    "reconciler.model.specs",  # typed specs: a table row reads the spec's mapping (views.summary)
    "reconciler.views.types",  # the full views (JobInfo, TaskInfo), for JSON/YAML and `job show`
    "reconciler.views.build",
    "reconciler.cli.job_actions",  # the job commands that act, and their options
    "reconciler.sdk.overrides",  # the gitops commands' Overrides (a 31-field frozen dataclass)
    "reconciler.sdk.approval_lines",  # `job show`'s lines on approvals from Git
    "reconciler.engine.pod_record",  # the process runtime's rows
    "reconciler.engine.change_records",  # what the change log answers its readers
    "reconciler.engine.trust_settings",  # the settings in force, published by a write or a driver
    "reconciler.kuscia.stages",  # the phase rules of stage commands and approvals, checked by the actions
)


def test_job_list_reads_sqlite_and_nothing_heavy(tmp_path: Path, state: Path) -> None:
    """Without a config file, not even the YAML reader is loaded; no engine driver is started (subprocess)."""
    done, modules = _run_modules(tmp_path, "job", "list", "--state-dir", str(state))
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["JOB", "job-a", "job-b"], done.stdout
    loaded = {name.split(".")[0] for name in modules}
    assert "sqlite3" in loaded  # the probe saw the command read the store
    _assert_none_of(loaded, (*HEAVY, "yaml", "subprocess", "hashlib", "signal", "fcntl", "base64"))
    _assert_none_of(modules, ENGINE_WRITERS)
    assert "reconciler.views.summary" in modules  # the table's rows (the probe saw the page read)


def test_job_list_with_a_config_file_loads_yaml_and_nothing_heavy(tmp_path: Path, state: Path) -> None:
    (tmp_path / "kgitops.yaml").write_text(f"engine:\n  state_dir: {state}\n  autostart: false\n")
    done, modules = _run_modules(tmp_path, "job", "list", "-o", "wide")
    assert "job-b" in done.stdout, done.stdout + done.stderr
    loaded = {name.split(".")[0] for name in modules}
    assert "yaml" in loaded and "reconciler.load.documents" in modules  # the config file's reader
    _assert_none_of(loaded, HEAVY)
    # the config file is read without the manifest side of reconciler.load (discovery, its file walking)
    _assert_none_of(modules, ("reconciler.load.discover", *ENGINE_WRITERS))


def test_job_list_with_a_config_file_read_before_loads_no_yaml(tmp_path: Path, state: Path) -> None:
    """The second command on the same kgitops.yaml takes its checked settings from the cache: no YAML parser,
    no schema check; after an edit the file is parsed again, and the edit counts."""
    config = tmp_path / "kgitops.yaml"
    config.write_text(f"engine:\n  state_dir: {state}\n  autostart: false\n")
    first, _ = _run_modules(tmp_path, "job", "list")
    again, modules = _run_modules(tmp_path, "job", "list")
    assert again.stdout == first.stdout and "job-b" in again.stdout, again.stdout + again.stderr
    loaded = {name.split(".")[0] for name in modules}
    _assert_none_of(loaded, (*HEAVY, "yaml"))
    _assert_none_of(modules, ("reconciler.config_schema", "reconciler.load.documents", *ENGINE_WRITERS))
    # the same size, another state directory: read from the file, not the cache
    before = config.read_bytes()
    config.write_text(f"engine:\n  state_dir: {state}x\n  autostart:   no\n")
    assert len(config.read_bytes()) == len(before)
    edited, modules = _run_modules(tmp_path, "job", "list")
    assert f"{state}x" in edited.stderr and "yaml" in {name.split(".")[0] for name in modules}


def test_validate_one_file_loads_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(JOB))
    done, loaded = _run(tmp_path, "validate", "one.yaml")
    assert "one.yaml" in done.stdout + done.stderr
    # the result cache is for many files: one file opens no SQLite file and hashes nothing
    _assert_none_of(loaded, (*HEAVY, "sqlite3", "subprocess", "hashlib", "logging"))


@pytest.mark.parametrize(
    "text", ["job-a", "", "名字", "tab\there", "\x1b", "é", "😀x", "a\u0301", "ｆｕｌｌ"]
)
def test_cell_width_is_rich_s_for_ascii_and_beyond(text: str) -> None:
    """Tables count display columns as rich does; rich is asked only for text beyond printable ASCII."""
    from rich.cells import cell_len as rich_cell_len

    assert cell_len(text) == rich_cell_len(text)


def test_cjk_names_line_up_with_ascii_ones() -> None:
    """A CJK character takes two columns on a terminal: the STATUS column starts at the same column in every
    row (8 columns of name, then three spaces)."""
    text = render_table(("NAME", "STATUS"), [["中文作业", "Running"], ["job-a", "Failed"]])
    assert text.splitlines() == ["NAME       STATUS", "中文作业   Running", "job-a      Failed"]
