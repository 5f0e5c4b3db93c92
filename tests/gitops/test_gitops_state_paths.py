"""Files kgitops writes from object names, and its state on disk, as a user meets them: any name validate
accepts fits the filesystem's 255 bytes per path component (status files, their temp files, the status
branch's paths); a status file that cannot be written is a warning for that object, never the end of the
sync or a traceback; a command that fails leaves no state behind; an unexpected ``OSError`` is
``error: PATH: REASON`` with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygit2
import yaml

from reconciler.filenames import fitting_name
from reconciler.model import ObjectRef
from reconciler.status import StatusBranch, StatusFiles, StatusRecord, SyncState

from .gitops_support import APP, Repo, appimage_doc, job_doc, write

NAME_MAX = 255  # bytes in a path component (Linux)
LONGEST = "a" * 253  # the longest object name: a DNS-1123 subdomain
NAMESPACE = "n" * 63  # the longest namespace: a DNS-1123 label
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def kgitops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True, text=True, timeout=120, env=ENV, cwd=cwd,
    )


def long_appimage(name: str = LONGEST) -> dict:
    doc = appimage_doc()
    doc["metadata"]["name"] = name
    return doc


def config(tmp_path: Path, status: Path) -> Path:
    path = tmp_path / "kgitops.yaml"
    path.write_text(
        f"engine:\n  state_dir: {tmp_path / 'state'}\n  trusted_appimages: [{APP}]\n"
        f"  auto_approve: [alice, bob]\n  autostart: false\nstatus:\n  dir: {status}\n",
        encoding="utf-8",
    )
    return path


def job(name: str) -> StatusRecord:
    return StatusRecord(ObjectRef("KusciaJob", NAMESPACE, name), SyncState.SYNCED, live={"phase": "Running"})


def component_lengths(root: Path) -> list[int]:
    return [len(p.name.encode()) for p in root.rglob("*")]


def test_a_name_as_a_file_name_is_kept_when_it_fits_and_else_shortened_stably_and_distinctly() -> None:
    assert fitting_name("job-a", ".yaml") == "job-a.yaml"
    assert fitting_name("a" * 250, ".yaml") == "a" * 250 + ".yaml"  # 255 bytes: fits
    one, other = fitting_name("a" * 251, ".yaml"), fitting_name("a" * 250 + "b", ".yaml")
    assert one == fitting_name("a" * 251, ".yaml") and one != other  # stable; never another name's
    assert len(one) == len(other) == NAME_MAX and one.endswith(".yaml") and "_" in one
    wide = fitting_name("é" * 200, ".yaml")  # 400 bytes of UTF-8, cut on a character boundary
    assert len(wide.encode()) <= NAME_MAX and wide.startswith("é")
    assert len(fitting_name(LONGEST, room=29).encode()) == NAME_MAX - 29


def test_sync_writes_the_status_of_the_longest_names_and_keeps_writing_it(tmp_path: Path) -> None:
    repo, status = tmp_path / "repo", tmp_path / "status"
    write(repo, "apps/noop.yaml", appimage_doc())
    write(repo, "apps/long.yaml", long_appimage())
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    cfg = config(tmp_path, status)
    first = kgitops("sync", repo, "--config", cfg)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert f"created     AppImage/{LONGEST}" in first.stdout
    files = sorted(status.rglob("*.yaml"))
    assert len(files) == 3 and max(component_lengths(status)) <= NAME_MAX
    records = {StatusRecord.from_yaml(f.read_bytes()).ref.name for f in files}
    assert records == {"noop-image", LONGEST, "job-a"}  # the file of a shortened name names the object
    again = kgitops("sync", repo, "--config", cfg)  # a fresh process: from the memo
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert sorted(status.rglob("*.yaml")) == files


def test_a_fresh_writer_says_which_object_of_a_shortened_file_is_gone(tmp_path: Path) -> None:
    long_job, short_job = job(LONGEST), job("job-b")
    image = StatusRecord(ObjectRef("AppImage", "", LONGEST[:-1] + "b"), SyncState.SYNCED)
    assert StatusFiles(tmp_path).write([long_job, short_job, image]) == [
        f"AppImage/{image.ref.name}: new, Synced",
        f"{LONGEST}: new, Running",
        "job-b: new, Running",
    ]
    assert max(component_lengths(tmp_path)) <= NAME_MAX - len("..1234567.tmp")  # room for a temp file
    assert StatusFiles(tmp_path).write([short_job]) == [  # a fresh writer (the memo's labels)
        f"AppImage/{image.ref.name}: Synced → removed",
        f"{LONGEST}: Running → removed",
    ]
    assert [p.name for p in tmp_path.rglob("*.yaml")] == ["job-b.yaml"]


def test_the_status_branch_holds_the_longest_names_in_paths_that_can_be_checked_out(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/job-a.yaml": job_doc("job-a")})
    (tmp_path / "repo" / ".kgitops").mkdir()  # kgitops' own state in the work tree is never committed
    (tmp_path / "repo" / ".kgitops" / "engine.db").write_text("state")
    branch = StatusBranch(pygit2.Repository(str(tmp_path / "repo")))
    assert branch.commit([job(LONGEST)]) is not None
    clone = pygit2.clone_repository(
        str(tmp_path / "repo"), str(tmp_path / "clone"), checkout_branch="kgitops/status"
    )
    (checked_out,) = (Path(clone.workdir) / NAMESPACE / "KusciaJob").iterdir()
    assert yaml.safe_load(checked_out.read_text())["metadata"]["name"] == LONGEST
    assert sorted(e.name for e in clone.head.peel(pygit2.Commit).tree) == [NAMESPACE]  # no .kgitops


def test_a_status_file_that_cannot_be_written_is_a_warning_for_that_object_only(tmp_path: Path) -> None:
    repo, status = tmp_path / "repo", tmp_path / "status"
    write(repo, "apps/noop.yaml", appimage_doc())
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    status.mkdir()
    (status / "_cluster").write_text("a file where the AppImages' status directory belongs\n")
    result = kgitops("sync", repo, "--config", config(tmp_path, status))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "created     KusciaJob/cross-domain/job-a" in result.stdout
    assert "warning: cannot write the status of AppImage/noop-image to " in result.stderr
    assert (status / "cross-domain" / "KusciaJob" / "job-a.yaml").is_file()  # the others are written


def test_a_sync_whose_source_is_missing_creates_no_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = kgitops("sync", tmp_path / "nonexistent", "--state-dir", state)
    assert result.returncode == 2 and "nothing was changed" in result.stderr, result.stderr
    assert not state.exists()
    state.mkdir()  # an empty state directory of the user's: no engine store appears in it either
    (state / "notes.txt").write_text("mine\n")
    result = kgitops("sync", tmp_path / "nonexistent", "--state-dir", state)
    assert result.returncode == 2 and "nothing was changed" in result.stderr, result.stderr
    assert sorted(p.name for p in state.iterdir()) == ["notes.txt"]


def test_an_unexpected_os_error_is_an_error_line_and_exit_2(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "jobs/job-a.yaml", job_doc("job-a"))
    (tmp_path / "afile").write_text("not a directory\n")
    result = kgitops("sync", repo, "--state-dir", tmp_path / "afile" / "state")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / 'afile'}: Not a directory\nhint: "), result.stderr
