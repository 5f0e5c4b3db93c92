"""`validate` (the pull-request check) predicts what `sync` holds: every entry of a source that sync cannot
read as manifests is an error of validate, with the same rule id and words, and sync's held line carries that
rule (``held x.yaml: IO001 …``). Real processes: `kgitops validate` on the directory (a checkout), `kgitops
sync` of the directory and of the Git repository committed from it, with the real embedded engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .gitops_support import appimage_doc, job_doc, write, write_config


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def validate_errors(root: Path) -> dict[str, str]:
    """validate's IO errors: path relative to ``root`` -> ``RULE message``."""
    done = kgitops("validate", root, "-o", "json")
    assert done.returncode in (0, 1), done.stderr
    found = json.loads(done.stdout)["findings"]
    return {
        os.path.relpath(f["file"], root): f"{f['rule']} {f['message']}"
        for f in found
        if f["severity"] == "error" and f["rule"].startswith("IO")
    }


def held_lines(stdout: str) -> dict[str, str]:
    """sync's held lines (``held      PATH: RULE message``): path -> ``RULE message``."""
    held = {}
    for line in stdout.splitlines():
        m = re.match(r"held +(\S+): (.*)$", line)
        if m:
            held[m.group(1)] = m.group(2)
    return held


def odd_source(root: Path, outside: Path) -> None:
    write(root, "apps/noop.yaml", appimage_doc())
    write(root, "jobs/job-a.yaml", job_doc("job-a"))
    write(root, "jobs/x.yaml/notes.yaml", job_doc("job-c"))  # a directory named like a manifest file
    write(outside, "secret.yaml", job_doc("job-s"))
    os.symlink(outside / "secret.yaml", root / "jobs/outjob.yaml")  # a link leaving the source
    os.symlink(outside, root / "more-jobs")  # a directory link leaving the source
    os.symlink("job-a.yaml", root / "jobs/again.yaml")  # a link named like a manifest, inside
    os.symlink("missing", root / "jobs/gone")  # a broken link named like a directory


def test_validate_reports_every_entry_a_directory_sync_holds(tmp_path: Path) -> None:
    root, outside = tmp_path / "src", tmp_path / "outside"
    odd_source(root, outside)
    os.mkfifo(root / "jobs/pipe.yaml")
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    predicted = validate_errors(root)
    done = kgitops("sync", root, "--config", cfg)
    assert done.returncode == 1, done.stdout + done.stderr
    held = held_lines(done.stdout)
    expected = {
        "jobs/x.yaml",
        "jobs/outjob.yaml",
        "more-jobs",
        "jobs/again.yaml",
        "jobs/gone",
        "jobs/pipe.yaml",
    }
    assert set(held) == expected, done.stdout
    assert held == predicted  # same paths, same rule, same words
    assert held["jobs/x.yaml"].startswith("IO001 a directory where a manifest file is expected")
    assert held["jobs/outjob.yaml"].startswith("IO002 ") and held["more-jobs"].startswith("IO002 ")
    assert held["jobs/pipe.yaml"] == "IO001 not a regular file (a pipe, socket, device or directory)"


def test_validate_on_a_checkout_reports_what_a_git_sync_holds(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    odd_source(root, outside)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "odd entries")
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    predicted = validate_errors(root)
    done = kgitops("sync", root, "--git", "--config", cfg)
    assert done.returncode == 1, done.stdout + done.stderr
    held = held_lines(done.stdout)
    assert set(held) == set(predicted) == {
        "jobs/x.yaml",
        "jobs/outjob.yaml",
        "more-jobs",
        "jobs/again.yaml",
        "jobs/gone",
    }, done.stdout
    for path, line in held.items():
        rule, _, words = line.partition(" ")
        assert predicted[path].split(" ")[0] == rule, (path, line, predicted[path])
        if rule == "IO001":
            assert predicted[path] == line  # the same words (a link's target is spelled as Git stores it)
        else:
            assert words.split(" (to ")[0] == predicted[path].partition(" ")[2].split(" (to ")[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_an_unreadable_directory_is_an_error_of_validate_and_held_by_sync(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root, "apps/noop.yaml", appimage_doc())
    write(root, "locked/job-a.yaml", job_doc("job-a"))
    (root / "locked").chmod(0)
    try:
        cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
        predicted = validate_errors(root)
        done = kgitops("sync", root, "--config", cfg)
        assert done.returncode == 1
        expected = {"locked": "IO001 cannot read the file (Permission denied)"}
        assert held_lines(done.stdout) == predicted == expected
    finally:
        (root / "locked").chmod(0o755)
