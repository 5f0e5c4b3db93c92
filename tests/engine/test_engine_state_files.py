"""What the embedded engine writes on disk from object names, and who may read it: every name fits the
filesystem's 255-byte limit per path component (``reconciler.filenames``), and what holds secrets or a
party's data is private to the engine's user whatever the umask (``reconciler.engine.private_files``)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends.local import LocalBackend
from reconciler.engine.driver import driver_pid, ensure_driver
from reconciler.engine.outputs import claim_output_dir
from reconciler.model import Stage

from .engine_fixtures import appimage, kjob, store_legacy
from .test_engine_outputs import APP, TWO, finished, folder, outputs

LONG = "o" * 253  # the longest object name (a DNS-1123 subdomain); KJ008 refuses it for a job today
SECRET = "hunter2"
NAME_MAX = 255  # bytes in a path component (Linux)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_recreated_job_with_the_longest_name_moves_the_earlier_outputs_aside(backend: LocalBackend) -> None:
    """A job stored before KJ008 (253 characters): ``.previous/<name>-<uid>-<time>`` would be 282 bytes."""
    backend.create(appimage("app", APP))
    job = store_legacy(backend, kjob(LONG, [{"alias": "a", "taskID": "long-a", "parties": TWO}]))
    assert finished(backend, LONG) == "Succeeded"
    assert outputs(backend, LONG) == ["long-a.csv"]
    backend.delete(job.ref)
    failing = {"alias": "a", "taskID": "long-a", "parties": TWO, "taskInputConfig": "FAIL"}
    store_legacy(backend, kjob(LONG, [failing]))
    assert finished(backend, LONG) == "Failed"
    assert outputs(backend, LONG) == outputs(backend, LONG, "bob") == []  # not the earlier job's
    (previous,) = (folder(backend, LONG).parent / ".previous").iterdir()
    assert len(previous.name.encode()) <= NAME_MAX and (previous / "long-a.csv").is_file()
    assert previous.name.startswith("o" * 200) and f"-{job.uid[:8]}-" in previous.name


def test_a_task_with_the_longest_name_runs_restarts_and_its_logs_are_found(backend: LocalBackend) -> None:
    """A task's folder (``pods/<task>``) and its earlier attempt's (``pods/.previous/<task>-<uid>-<time>``,
    282 bytes unshortened): the first attempt fails, a Restart runs it again, both logs stay readable."""
    script = 'echo "attempt of $KUSCIA_TASK_ID"; test -e "$KGITOPS_WORKSPACE/go" || exit 3'
    backend.create(appimage("app", script))
    job = store_legacy(backend, kjob("job-l", [{"alias": "a", "taskID": LONG}]))
    assert finished(backend, "job-l") == "Failed"
    (backend.state_dir.parent / "go").write_text("")
    backend.stage(job.ref, Stage.RESTART)
    assert finished(backend, "job-l") == "Succeeded"
    assert list(backend.logs("job-l")) == [f"[a/alice-0/main] attempt of {LONG}"]
    (earlier,) = (backend.state_dir / "pods" / ".previous").iterdir()
    assert len(earlier.name.encode()) <= NAME_MAX
    assert f"attempt of {LONG}" in next(earlier.rglob("main.log")).read_text()


def test_an_output_folder_that_cannot_be_moved_aside_is_an_error_not_kept(tmp_path: Path) -> None:
    storage = tmp_path / "data"
    claim_output_dir(storage, "job-m", "uid-one")
    (storage / "job-m" / "result.csv").write_text("earlier\n")
    (storage / ".previous").write_text("a file where the folder of earlier outputs belongs\n")
    with pytest.raises(OSError):
        claim_output_dir(storage, "job-m", "uid-two")
    assert (storage / "job-m" / ".kgitops-job").read_text().strip() == "uid-one"  # not claimed by the new job


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_state_holding_secrets_or_party_data_is_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    state = tmp_path / "state"
    b = LocalBackend(
        state, trusted_appimages=["app"], workspace=tmp_path, autostart=False, auto_approve=["bob"]
    )
    try:
        b.create(appimage("app", APP + "; echo $PASSWORD", env={"PASSWORD": SECRET}))
        b.create(kjob("job-p", [{"alias": "a", "parties": TWO}]))
        assert finished(b, "job-p") == "Succeeded"
        spawn = list((state / "pods").rglob("*.spawn.json"))
        logs = list((state / "pods").rglob("*.log"))
        assert spawn and logs and SECRET in spawn[0].read_text() and SECRET in logs[0].read_text()
        files = [state / "engine.db", *spawn, *logs, *(state / "pods").rglob("*.conf"),
                 *(state / "pods").rglob(".launch.json"), *(state / "storage").rglob(".kgitops-job")]
        assert {str(f): oct(mode(f)) for f in files} == {str(f): "0o600" for f in files}
        dirs = [state, *(p for p in (state / "pods").rglob("*") if p.is_dir()),
                *(p for p in (state / "storage").rglob("*") if p.is_dir())]
        assert {str(d): oct(mode(d)) for d in dirs} == {str(d): "0o700" for d in dirs}
    finally:
        for job in b.list("KusciaJob"):
            b.delete(job.ref)
        b.close()


def test_a_driver_started_on_a_new_state_directory_makes_it_private(tmp_path: Path, open_umask: None) -> None:
    state = tmp_path / "new-state"
    pid = ensure_driver(state, workspace=tmp_path)
    assert pid is not None
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):  # our child; --until-idle: it ends, nothing to do
        assert time.monotonic() < deadline, "the driver did not end"
        time.sleep(0.05)
    assert driver_pid(state) is None
    assert oct(mode(state)) == "0o700" and oct(mode(state / "engine.log")) == "0o600"
