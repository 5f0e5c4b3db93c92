"""Untrusted text never forges a line or a terminal escape: object names, file paths, values and messages
from a pull request reach every text kgitops prints escaped (``\\n``, ``\\x1b``), as the one home
``reconciler.output.printable`` shows them. A line ``::error file=…::`` of its own is a GitHub Actions
workflow command; an ESC starts a terminal escape sequence. Real processes: `kgitops validate | diff |
sync | status | job show | job list` with the real embedded engine; watch's text log through its real
logging setup."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.output.printable import printable
from reconciler.watch import configure_logging

from .gitops_support import appimage_doc, dump, job_doc, write, write_config

INJECTED = "\n::error file=README.md,line=1::INJECTED\x1b]0;pwned\x07\x1b[31mRED\r"
ESCAPED = "\\n::error file=README.md,line=1::INJECTED\\x1b]0;pwned\\x07\\x1b[31mRED\\r"


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


def assert_safe(done: subprocess.CompletedProcess[str]) -> None:
    """No forged line, no escape sequence, no stray carriage return, in stdout or stderr."""
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\r" not in stream and "\x07" not in stream, stream
        for line in stream.splitlines():
            assert not line.lstrip().startswith("::error file=README.md"), stream


def test_printable_escapes_every_control_character_and_nothing_else() -> None:
    assert printable("job-a 任务 ünïcode ✓") == "job-a 任务 ünïcode ✓"
    assert printable(INJECTED) == ESCAPED
    assert printable("a\tb\x00c\x7fd\x85e\x9bf\u2028g\u202eh") == (
        "a\\tb\\x00c\\x7fd\\x85e\\x9bf\\u2028g\\u202eh"
    )


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A source with a file whose name, and a job whose name and annotation, carry injected lines."""
    src = tmp_path / "src"
    write(src, "apps/noop.yaml", appimage_doc())
    write(src, "jobs/job-a.yaml", job_doc("job-a"))
    bad = job_doc("x" + INJECTED)
    write(src, "jobs/bad.yaml", dump(bad))
    write(src, f"jobs/b{INJECTED}.yaml", job_doc("job-b", initiator="carol"))  # KJ007: a warning
    write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    return tmp_path


def test_validate_text_github_and_junit_keep_injected_paths_on_their_line(hostile: Path) -> None:
    for fmt in ("text", "github", "junit"):
        done = kgitops("validate", hostile / "src", "-o", fmt)
        assert done.returncode == 1, done.stderr
        assert_safe(done)
    text = kgitops("validate", hostile / "src").stdout
    assert f"jobs/b{ESCAPED}.yaml" in text


def test_diff_sync_and_status_keep_injected_names_on_their_line(hostile: Path) -> None:
    cfg = hostile / "kgitops.yaml"
    diff = kgitops("diff", hostile / "src", "--config", cfg)
    assert diff.returncode == 1
    assert_safe(diff)
    assert f"KusciaJob/cross-domain/x{ESCAPED}" in diff.stdout  # the held object, named escaped
    markdown = kgitops("diff", hostile / "src", "--config", cfg, "-o", "markdown")
    assert_safe(markdown)
    sync = kgitops("sync", hostile / "src", "--config", cfg)
    assert sync.returncode == 1
    assert_safe(sync)
    assert "created     KusciaJob/cross-domain/job-b" in sync.stdout  # the file with the odd name is read
    status = kgitops("status", hostile / "src", "--config", cfg)
    assert_safe(status)


def test_job_show_and_list_keep_an_injected_annotation_on_its_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    doc = job_doc("job-a")
    doc["metadata"]["annotations"] = {"note": "see" + INJECTED}
    write(tmp_path, "job.yaml", doc)
    assert kgitops("job", "create", "-f", tmp_path / "job.yaml", "--config", cfg).returncode == 0
    show = kgitops("job", "show", "job-a", "--config", cfg)
    assert show.returncode == 0 and f"note=see{ESCAPED}" in show.stdout
    assert_safe(show)
    listed = kgitops("job", "list", "--fields", "name,annotations", "--config", cfg)
    assert listed.returncode == 0 and f"note=see{ESCAPED}" in listed.stdout
    assert_safe(listed)


def test_an_error_naming_an_injected_path_is_escaped(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "k.yaml", tmp_path)
    done = kgitops("diff", tmp_path / f"nope{INJECTED}", "--config", cfg)
    assert done.returncode == 2
    assert_safe(done)
    assert f"nope{ESCAPED}" in done.stderr


def test_watch_text_log_lines_are_printable() -> None:
    stream = io.StringIO()
    configure_logging("text", stream)
    try:
        logging.getLogger("kgitops.watch").info("created %s", "KusciaJob/cross-domain/x" + INJECTED)
    finally:
        logging.getLogger("kgitops").handlers[:] = []
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(f"INFO created KusciaJob/cross-domain/x{ESCAPED}")
