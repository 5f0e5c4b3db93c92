"""A recreated job gets a fresh output folder (``<state>/storage/<domain>/data/<job>/``): a re-run that fails
does not present the earlier job's outputs as its own. A Restart (the same job) keeps them."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.apply.session import open_session
from reconciler.backends.local import LocalBackend
from reconciler.config import Config, EngineConfig, SourceConfig
from reconciler.model import ObjectRef, Stage

from .engine_fixtures import appimage, kjob

TWO = [{"domainID": "alice"}, {"domainID": "bob"}]
# like the example apps: outputs under a folder named after the job; fails when its input says so
APP = (
    'case "$(cat ./kuscia/task-config.conf)" in *FAIL*) echo "refusing" >&2; exit 1;; esac; '
    'echo "$KUSCIA_TASK_ID" > "${KGITOPS_OUTPUT_DIR:?}/$KUSCIA_TASK_ID.csv"; '
    'echo "$KGITOPS_OUTPUT_DIR" > "$KGITOPS_POD_DIR/output-dir.txt"'
)


def folder(b: LocalBackend, job: str, domain: str = "alice") -> Path:
    return b.state_dir / "storage" / domain / "data" / job


def outputs(b: LocalBackend, job: str, domain: str = "alice") -> list[str]:
    root = folder(b, job, domain)
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def finished(b: LocalBackend, name: str) -> str:
    def done() -> bool:
        job = b.get(ObjectRef.of("KusciaJob", name))
        return job is not None and bool(job.status.get("completionTime"))

    assert b.run_until(done, timeout=20)
    job = b.get(ObjectRef.of("KusciaJob", name))
    assert job is not None
    return str(job.status.get("phase"))


def test_a_recreated_job_that_fails_does_not_show_the_earlier_outputs(backend: LocalBackend) -> None:
    backend.create(appimage("app", APP))
    job = backend.create(kjob("job-x", [{"alias": "a", "parties": TWO}]))
    assert finished(backend, "job-x") == "Succeeded"
    assert outputs(backend, "job-x") == outputs(backend, "job-x", "bob") == ["job-x-a.csv"]
    told = (backend.state_dir / "pods" / "job-x-a" / "alice-0" / "output-dir.txt").read_text().strip()
    assert told == str(folder(backend, "job-x"))
    backend.delete(job.ref)
    backend.create(kjob("job-x", [{"alias": "a", "parties": TWO, "taskInputConfig": "FAIL"}]))
    assert finished(backend, "job-x") == "Failed"
    # fresh: nothing of the first run
    assert outputs(backend, "job-x") == outputs(backend, "job-x", "bob") == []
    # the earlier job's outputs are kept aside, out of the apps' reach (a hidden folder)
    (previous,) = (backend.state_dir / "storage" / "alice" / "data" / ".previous").iterdir()
    assert previous.name.startswith(f"job-x-{job.uid[:8]}-") and (previous / "job-x-a.csv").is_file()


def test_a_restart_is_the_same_job_and_keeps_its_outputs(backend: LocalBackend) -> None:
    backend.create(appimage("app", APP))
    tasks = [{"alias": "a", "parties": TWO}, {"alias": "b", "parties": TWO, "taskInputConfig": "FAIL"}]
    job = backend.create(kjob("job-r", tasks))
    assert finished(backend, "job-r") == "Failed"
    assert outputs(backend, "job-r") == ["job-r-a.csv"]
    backend.stage(job.ref, Stage.RESTART)
    assert finished(backend, "job-r") == "Failed"
    assert outputs(backend, "job-r") == ["job-r-a.csv"]  # a succeeded before and is not run again


def test_a_users_own_folder_is_never_moved(backend: LocalBackend) -> None:
    mine = folder(backend, "job-u")
    mine.mkdir(parents=True)
    (mine / "my-table.csv").write_text("id\n1\n")
    backend.create(appimage("app", APP))
    job = backend.create(kjob("job-u", [{"alias": "a"}]))
    assert finished(backend, "job-u") == "Succeeded"
    backend.delete(job.ref)
    backend.create(kjob("job-u", [{"alias": "a"}]))
    assert finished(backend, "job-u") == "Succeeded"
    assert outputs(backend, "job-u") == ["job-u-a.csv", "my-table.csv"]


def test_sync_recreate_gives_the_rerun_a_fresh_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    app = appimage("app", APP)
    app_doc = {"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "AppImage", "metadata": {"name": "app"}}
    (src / "app.yaml").write_text(yaml.safe_dump({**app_doc, "spec": app.spec}))
    job = kjob("job-s", [{"alias": "a", "parties": TWO}])
    (src / "job.yaml").write_text(yaml.safe_dump(job.to_manifest()))
    state = tmp_path / "state"
    cfg = Config(
        source=SourceConfig(path=str(src)),
        engine=EngineConfig(state_dir=str(state), trusted_appimages=["app"], auto_approve=["bob"]),
    )
    backend = LocalBackend(state, trusted_appimages=["app"], auto_approve=["bob"], autostart=False)
    try:
        open_session(cfg, backend).reconciler.sync()
        assert finished(backend, "job-s") == "Succeeded" and outputs(backend, "job-s") == ["job-s-a.csv"]
        changed = kjob("job-s", [{"alias": "a", "parties": TWO, "taskInputConfig": "FAIL"}])
        (src / "job.yaml").write_text(yaml.safe_dump(changed.to_manifest()))
        open_session(cfg, backend, recreate=("job-s",)).reconciler.sync()
        assert finished(backend, "job-s") == "Failed"
        assert outputs(backend, "job-s") == outputs(backend, "job-s", "bob") == []
    finally:
        for j in backend.list("KusciaJob"):
            backend.delete(j.ref)
        backend.close()
