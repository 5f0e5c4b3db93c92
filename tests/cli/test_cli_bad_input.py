"""Bad input from a hostile user: files that are not files, files that never end, option values that do not
convert. Each gets a clear error and its documented exit code, never a traceback, a hang or an exhausted
memory. Real processes with a deadline (``timeout``), the real embedded engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitops.gitops_support import dump, job_doc, write_config


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,  # a command that hangs on a FIFO fails the test here
        cwd=cwd,
    )


def refused(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "kgitops.yaml", tmp_path / "state")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    os.mkfifo(path)
    return path


# (command before the file, its code for an unreadable file, command after the file)
FILE_COMMANDS = [
    (("job", "create", "-f"), 1, ()),
    (("simulate",), 2, ()),
    (("graph",), 1, ("--no-live",)),
    (("validate",), 1, ()),
]


@pytest.mark.parametrize(("before", "code", "after"), FILE_COMMANDS)
def test_a_device_or_a_fifo_is_refused_without_being_read(
    tmp_path: Path, cfg: Path, fifo: Path, before: tuple[str, ...], code: int, after: tuple[str, ...]
) -> None:
    config = ("--config", cfg) if before[0] in ("job", "graph") else ()
    for path in (Path("/dev/zero"), fifo):
        done = kgitops(*before, path, *after, *config, cwd=tmp_path)
        if before == ("validate",):
            assert done.returncode == code and "IO001" in done.stdout, done.stdout + done.stderr
        else:
            refused(done, code, str(path), "not a regular file")


@pytest.mark.parametrize(("before", "code", "after"), FILE_COMMANDS[:3])
def test_max_file_size_refuses_a_larger_manifest(
    tmp_path: Path, cfg: Path, before: tuple[str, ...], code: int, after: tuple[str, ...]
) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(dump(job_doc("job-a")))
    size = manifest.stat().st_size
    config = ("--config", cfg) if before[0] in ("job", "graph") else ()
    done = kgitops(*before, manifest, *after, *config, "--max-file-size", str(size - 1), cwd=tmp_path)
    refused(done, code, f"above the limit of {size - 1}", "--max-file-size")
    fits = kgitops(*before, manifest, *after, *config, "--max-file-size", str(size), cwd=tmp_path)
    assert "above the limit" not in fits.stderr and "Traceback" not in fits.stderr, fits.stderr


def test_a_config_that_is_a_device_or_a_fifo_is_a_usage_error(tmp_path: Path, fifo: Path) -> None:
    for path in (Path("/dev/zero"), fifo):
        refused(kgitops("job", "list", "--config", path, cwd=tmp_path), 2, "not a regular file")


@pytest.mark.parametrize(
    "args",
    [
        ("job", "list", "--since", "99999999999999999999"),
        ("job", "list", "--since", "notatime"),
        ("job", "list", "--started-after", "2026-13-45"),
        ("job", "list", "-s", "Nope"),
        ("job", "update", "job-a", "-p", "HIGHEST"),
        ("job", "update", "job-a", "-l", "bad key!=x"),
        ("sync", "src", "--wait", "--timeout", "-5"),
        ("watch", "src", "--metrics-addr", "127.0.0.1:99999"),
    ],
)
def test_a_bad_option_value_is_a_usage_error(tmp_path: Path, cfg: Path, args: tuple[str, ...]) -> None:
    """Exit 2 and one line naming the value, whatever the conversion failed on (docs/exit-codes.md)."""
    (tmp_path / "src").mkdir()
    manifest = tmp_path / "job.yaml"
    manifest.write_text(dump(job_doc("job-a")))
    if args[:2] == ("job", "update"):
        assert kgitops("job", "create", "-f", manifest, "--config", cfg, cwd=tmp_path).returncode == 0
    done = kgitops(*args, "--config", cfg, cwd=tmp_path)
    refused(done, 2, args[-1].partition("=")[0])


@pytest.mark.parametrize("command", ["validate", "diff", "sync", "status", "watch"])
def test_max_file_size_zero_is_refused_by_every_command(tmp_path: Path, cfg: Path, command: str) -> None:
    (tmp_path / "src").mkdir()
    config = () if command == "validate" else ("--config", cfg)
    done = kgitops(command, "src", *config, "--max-file-size", "0", cwd=tmp_path)
    refused(done, 2, "--max-file-size", "at least 1 byte")


def test_simulate_refuses_an_events_file_that_is_a_fifo(tmp_path: Path, fifo: Path) -> None:
    manifest = tmp_path / "one.yaml"
    manifest.write_text(dump(job_doc("job-a")))
    refused(kgitops("simulate", manifest, "--events", fifo, cwd=tmp_path), 2, "not a regular file")
