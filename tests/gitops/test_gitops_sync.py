"""Sync against the real embedded engine: ownership, inventory, held files, prune safety, one-shot jobs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.apply import Outcome, Reconciler
from reconciler.backends.local import LocalBackend
from reconciler.model import ObjectRef
from reconciler.plan import PlanOptions
from reconciler.plan import ownership as own
from reconciler.source import DirectorySource, GitSource

from .gitops_support import Repo, job_doc, local_backend, write

JOB_A = ObjectRef.of("KusciaJob", "job-a")
JOB_B = ObjectRef.of("KusciaJob", "job-b")


@pytest.fixture
def backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = local_backend(tmp_path / "state")
    yield b
    b.close()


def outcomes(result) -> dict[str, Outcome]:  # type: ignore[no-untyped-def]
    return {a.ref.name: a.outcome for a in result.applied}


def test_sync_creates_with_ownership_and_is_idempotent(tmp_path: Path, backend: LocalBackend) -> None:
    src = tmp_path / "src"
    write(src, "jobs/job-a.yaml", job_doc("job-a"))
    rec = Reconciler(DirectorySource(src), backend)
    planned, result = rec.sync()
    assert outcomes(result) == {"job-a": Outcome.CREATED}
    live = backend.get(JOB_A)
    assert live is not None
    assert live.labels[own.MANAGED_BY] == "kgitops"
    assert live.annotations[own.SOURCE_PATH] == "jobs/job-a.yaml"
    assert live.annotations[own.REVISION] == planned.desired.revision
    assert live.annotations[own.SPEC_HASH] == own.spec_hash(job_doc("job-a")["spec"])
    assert backend.get_inventory(rec.source_id) == {JOB_A}
    _, again = rec.sync()
    assert outcomes(again) == {"job-a": Outcome.UNCHANGED}


def test_created_objects_in_the_result_share_the_desired_spec(tmp_path: Path, backend: LocalBackend) -> None:
    """A sync keeps every created object until it ends: each one holds the desired spec (equal to what the
    backend stored), not a second decoded copy of it, so a cold sync of 10,000 jobs holds one copy."""
    src = tmp_path / "src"
    write(src, "jobs/job-a.yaml", job_doc("job-a"))
    write(src, "jobs/job-b.yaml", job_doc("job-b", ("x",)))
    planned, result = Reconciler(DirectorySource(src), backend).sync()
    for a in result.applied:
        assert a.outcome == Outcome.CREATED and a.live is not None
        stored = backend.get(a.ref)
        assert stored is not None and a.live.spec == stored.spec
        assert a.live.spec is planned.desired.objects[a.ref].spec
        assert a.live.uid == stored.uid and a.live.resource_version == stored.resource_version


def test_yaml_error_holds_the_file_and_never_prunes_its_objects(
    tmp_path: Path, backend: LocalBackend
) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    write(src, "job-b.yaml", job_doc("job-b"))
    rec = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True))
    rec.sync()
    write(src, "job-a.yaml", "kind: KusciaJob\nmetadata: {name: job-a\n")  # broken mid-edit
    planned, result = rec.sync()
    assert "job-a.yaml" in planned.plan.held_files
    assert outcomes(result)["job-a"] == Outcome.HELD
    assert backend.get(JOB_A) is not None and JOB_A in backend.get_inventory(rec.source_id)
    write(src, "job-a.yaml", job_doc("job-a"))
    _, fixed = rec.sync()
    assert outcomes(fixed)["job-a"] == Outcome.UNCHANGED


def test_deleted_file_is_pruned_only_with_prune_on(tmp_path: Path, backend: LocalBackend) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    write(src, "job-b.yaml", job_doc("job-b"))
    Reconciler(DirectorySource(src), backend).sync()
    (src / "job-b.yaml").unlink()
    _, off = Reconciler(DirectorySource(src), backend).sync()
    assert outcomes(off)["job-b"] == Outcome.OUT_OF_SYNC and backend.get(JOB_B) is not None
    _, on = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True)).sync()
    assert outcomes(on)["job-b"] == Outcome.PRUNED and backend.get(JOB_B) is None
    assert backend.get_inventory(DirectorySource(src).source_id) == {JOB_A}


def test_unmanaged_objects_are_never_pruned(tmp_path: Path, backend: LocalBackend) -> None:
    from reconciler.model import Resource

    backend.create(Resource.from_manifest(job_doc("job-manual")))
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    _, result = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True)).sync()
    assert outcomes(result)["job-manual"] == Outcome.UNMANAGED
    assert backend.get(ObjectRef.of("KusciaJob", "job-manual")) is not None


def test_empty_or_unreadable_source_is_refused(tmp_path: Path, backend: LocalBackend) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    Reconciler(DirectorySource(src), backend).sync()
    (src / "job-a.yaml").unlink()  # a broken checkout: nothing at all
    planned, result = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True)).sync()
    assert "yields no objects" in planned.plan.prune_refused
    assert outcomes(result)["job-a"] == Outcome.OUT_OF_SYNC and backend.get(JOB_A) is not None
    gone = Reconciler(DirectorySource(tmp_path / "missing"), backend, PlanOptions(prune=True))
    planned, result = gone.sync()
    assert "does not exist" in planned.desired.error and backend.get(JOB_A) is not None
    write(src, "job-a.yaml", job_doc("job-a"))
    if os.geteuid() != 0:  # root reads anything
        (src / "job-a.yaml").chmod(0)
        planned, _ = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True)).sync()
        assert "cannot read" in planned.plan.held_files["job-a.yaml"]
        assert backend.get(JOB_A) is not None


def test_changed_job_is_reported_not_rerun_and_recreate_reruns(tmp_path: Path, backend: LocalBackend) -> None:
    src = tmp_path / "src"
    write(src, "job-a.yaml", job_doc("job-a"))
    rec = Reconciler(DirectorySource(src), backend)
    rec.sync()
    uid = backend.get(JOB_A).uid  # type: ignore[union-attr]
    write(src, "job-a.yaml", job_doc("job-a", ("psi", "train")))
    planned, result = rec.sync()
    assert outcomes(result)["job-a"] == Outcome.OUT_OF_SYNC
    assert "one-shot" in result.applied[0].message
    assert backend.get(JOB_A).uid == uid  # type: ignore[union-attr]  # not re-run
    rec2 = Reconciler(DirectorySource(src), backend, PlanOptions(recreate=frozenset({"job-a"})))
    _, rerun = rec2.sync()
    assert outcomes(rerun)["job-a"] == Outcome.RECREATED
    live = backend.get(JOB_A)
    assert live is not None and live.uid != uid and len(live.spec["tasks"]) == 2


def test_git_source_sync_and_prune_after_force_push(tmp_path: Path, backend: LocalBackend) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    c1 = remote.commit({"job-a.yaml": job_doc("job-a")})
    remote.commit({"job-b.yaml": job_doc("job-b")})
    src = GitSource((tmp_path / "remote.git").as_uri(), cache_dir=tmp_path / "cache")
    rec = Reconciler(src, backend, PlanOptions(prune=True))
    _, first = rec.sync()
    assert outcomes(first) == {"job-a": Outcome.CREATED, "job-b": Outcome.CREATED}
    remote.reset_branch(c1)  # someone force-pushed job-b away
    planned, second = rec.sync()
    assert planned.desired.revision == c1
    assert outcomes(second) == {"job-a": Outcome.UNCHANGED, "job-b": Outcome.PRUNED}


def test_pruning_a_running_job_stops_its_processes_first(tmp_path: Path, backend: LocalBackend) -> None:
    from .gitops_support import appimage_doc

    src = tmp_path / "src"
    write(src, "apps/noop.yaml", appimage_doc("sleep 60"))
    write(src, "job-a.yaml", job_doc("job-a"))
    rec = Reconciler(DirectorySource(src), backend, PlanOptions(prune=True))
    rec.sync()

    def running() -> bool:
        job = backend.get(JOB_A)
        return job is not None and job.status.get("phase") == "Running" and backend.runtime.has_live_pods()

    assert backend.run_until(running, timeout=30)
    (src / "job-a.yaml").unlink()
    _, result = rec.sync()
    assert outcomes(result)["job-a"] == Outcome.PRUNED
    assert backend.get(JOB_A) is None and not backend.list("KusciaTask")
    assert not backend.runtime.has_live_pods()


def test_job_tasks_are_not_listed_but_a_defined_kuscia_task_is_found(
    tmp_path: Path, backend: LocalBackend
) -> None:
    from reconciler.model import Resource

    task = {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaTask",
        "metadata": {"name": "task-x"},
        "spec": {
            "initiator": "alice",
            "taskInputConfig": "{}",
            "parties": [{"domainID": "alice", "appImageRef": "noop-image"}],
        },
    }
    backend.create(Resource.from_manifest(task))  # created by hand, identical to the manifest
    src = tmp_path / "src"
    write(src, "task-x.yaml", task)
    _, result = Reconciler(DirectorySource(src), backend).sync()
    assert outcomes(result) == {"task-x": Outcome.ADOPTED}
    live = backend.get(ObjectRef.of("KusciaTask", "task-x"))
    assert live is not None and live.labels[own.MANAGED_BY] == "kgitops"
