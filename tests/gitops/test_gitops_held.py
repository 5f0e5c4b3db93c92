"""Held, never pruned: prune is computed only from what was read and understood (issue 12, section A).

Each case starts from two synced jobs (``job-a.yaml``, ``job-b.yaml``) with prune on, breaks the source the
way a real edit does, and checks that nothing is pruned, that the reason is given, and that the inventory
still holds every job. Every case runs against a directory source and a Git source (a real repository read
from its committed tree), with the real embedded engine's store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from reconciler.apply import Outcome, Reconciler
from reconciler.backends.local import LocalBackend
from reconciler.model import ObjectRef, Resource
from reconciler.plan import Action, PlanOptions
from reconciler.plan import ownership as own
from reconciler.source import DirectorySource, GitSource
from reconciler.validate import Options

from .gitops_support import Repo, appimage_doc, dump, job_doc, local_backend, wait_for, write, write_config

JOB_A = ObjectRef.of("KusciaJob", "job-a")
JOB_B = ObjectRef.of("KusciaJob", "job-b")
BROKEN_YAML = "apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaJob\nmetadata: {name: job-x\n"


@pytest.fixture
def backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = local_backend(tmp_path / "state")
    yield b
    b.close()


class Source:
    """The same edits on a directory or on a Git repository (committed, then read from the commit)."""

    def __init__(self, tmp_path: Path, kind: str) -> None:
        self.kind = kind
        self.root = tmp_path / "src"
        self.repo = Repo(self.root) if kind == "git" else None
        self.outside = tmp_path / "outside"
        self.outside.mkdir()

    def put(self, files: dict[str, str | dict | None]) -> None:
        if self.repo is not None:
            self.repo.commit(files)
            return
        for rel, doc in files.items():
            path = self.root / rel
            if doc is None:
                path.unlink()
            else:
                write(self.root, rel, doc)


def reconciler(src: Source, backend: LocalBackend, max_file_size: int | None = None) -> Reconciler:
    source = DirectorySource(src.root) if src.repo is None else GitSource(str(src.root))
    options = Options(max_file_size=max_file_size) if max_file_size else None
    return Reconciler(source, backend, PlanOptions(prune=True), validate_options=options)


def outcomes(result) -> dict[str, Outcome]:  # type: ignore[no-untyped-def]
    return {a.ref.name: a.outcome for a in result.applied}


def synced(tmp_path: Path, backend: LocalBackend, kind: str) -> Source:
    src = Source(tmp_path, kind)
    src.put({"job-a.yaml": job_doc("job-a"), "job-b.yaml": job_doc("job-b")})
    _, result = reconciler(src, backend).sync()
    assert outcomes(result) == {"job-a": Outcome.CREATED, "job-b": Outcome.CREATED}
    return src


def assert_nothing_pruned(backend: LocalBackend, rec: Reconciler, *jobs: ObjectRef) -> None:
    planned, result = rec.sync()
    assert not [a for a in result.applied if a.outcome == Outcome.PRUNED], result.applied
    for ref in jobs:
        assert backend.get(ref) is not None, ref
        assert ref in backend.get_inventory(rec.source_id), ref
        assert outcomes(result)[ref.name] in (Outcome.HELD, Outcome.UNCHANGED), outcomes(result)
    assert any(a.outcome == Outcome.HELD for a in result.applied)


def held_reasons(rec: Reconciler) -> str:
    plan = rec.plan().plan
    return "\n".join([plan.prune_refused, *plan.held_files.values(), *(e.reason for e in plan.entries)])


KINDS = ["dir", "git"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_misspelt_kuscia_kind_holds_the_job(tmp_path: Path, backend: LocalBackend, kind: str) -> None:
    src = synced(tmp_path, backend, kind)
    bad = job_doc("job-a")
    bad["kind"] = "KusicaJob"
    src.put({"job-a.yaml": bad})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    why = held_reasons(rec)
    assert "job-a.yaml:2:7: KIND003" in why and "did you mean `KusciaJob`" in why


@pytest.mark.parametrize("kind", KINDS)
def test_api_version_and_kind_slipped_under_metadata(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    slipped = (
        "metadata:\n  name: job-a\n  apiVersion: kuscia.secretflow/v1alpha1\n  kind: KusciaJob\n"
        + dump({"spec": job_doc("job-a")["spec"]})
    )
    src.put({"job-a.yaml": slipped})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "KIND004" in held_reasons(rec) and "indent them as top-level keys" in held_reasons(rec)


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_truncated_to_zero_bytes_holds_its_job(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    src.put({"job-a.yaml": ""})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "job-a.yaml is still in the source but yields no objects" in held_reasons(rec)
    # deleting the file is the way to prune what it defined
    src.put({"job-a.yaml": None})
    _, result = rec.sync()
    assert outcomes(result)["job-a"] == Outcome.PRUNED and backend.get(JOB_A) is None
    assert backend.get_inventory(rec.source_id) == {JOB_B}


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_replaced_by_a_directory_holds_its_job(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    src.put({"job-a.yaml": None, "job-a.yaml/notes.yaml": job_doc("job-c")})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "job-a.yaml: IO001 a directory where a manifest file is expected" in held_reasons(rec)


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_moved_into_a_file_with_a_syntax_error(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    src.put({"job-a.yaml": None, "job-b.yaml": dump(job_doc("job-b")) + "---\n" + BROKEN_YAML})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    plan = rec.plan().plan
    assert plan.held_files["job-b.yaml"].startswith("job-b.yaml:18:1: YAML001 YAML syntax error")
    assert "nothing is pruned" in plan.prune_refused and plan.entry(JOB_A).action == Action.HELD  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", KINDS)
def test_an_invalid_metadata_name_holds_the_job(tmp_path: Path, backend: LocalBackend, kind: str) -> None:
    src = synced(tmp_path, backend, kind)
    src.put({"job-a.yaml": job_doc("Job_A")})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "META001" in held_reasons(rec)


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_broken_and_moved_to_a_new_folder(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    src.put(
        {
            "job-a.yaml": None,
            "job-b.yaml": None,
            "moved/job-a.yaml": dump(job_doc("job-a")) + "  bad: [\n",
            "moved/job-b.yaml": dump(job_doc("job-b")).replace("kind: KusciaJob", "kind: [KusciaJob"),
        }
    )
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    plan = rec.plan().plan
    assert set(plan.held_files) == {"moved/job-a.yaml", "moved/job-b.yaml"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_directory_symlink_is_held_never_skipped(tmp_path: Path, backend: LocalBackend, kind: str) -> None:
    src = synced(tmp_path, backend, kind)
    write(src.outside, "job-a.yaml", job_doc("job-a"))
    if src.repo is None:
        (src.root / "job-a.yaml").unlink()
        os.symlink(src.outside, src.root / "more-jobs")
    else:
        repo = src.repo.repo
        src.repo.files.pop("job-a.yaml")
        index = pygit2.Index()
        for rel, data in sorted(src.repo.files.items()):
            index.add(pygit2.IndexEntry(rel, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
        link = repo.create_blob(b"../outside")
        index.add(pygit2.IndexEntry("more-jobs", link, pygit2.enums.FileMode.LINK))
        tree = index.write_tree(repo)
        parent = repo.references["refs/heads/main"].target
        repo.create_commit("refs/heads/main", _sig(), _sig(), "link", tree, [parent])
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "more-jobs" in rec.plan().plan.held_files
    assert "outside" in rec.plan().plan.held_files["more-jobs"]


def _sig() -> pygit2.Signature:
    return pygit2.Signature("Test Author", "author@example.com", 1_700_000_100, 0)


def test_a_git_submodule_is_held_never_skipped(tmp_path: Path, backend: LocalBackend) -> None:
    src = synced(tmp_path, backend, "git")
    assert src.repo is not None
    repo = src.repo.repo
    src.repo.files.pop("job-a.yaml")
    index = pygit2.Index()
    for rel, data in sorted(src.repo.files.items()):
        index.add(pygit2.IndexEntry(rel, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    index.add(pygit2.IndexEntry("vendor-jobs", pygit2.Oid(hex="1" * 40), pygit2.enums.FileMode.COMMIT))
    tree = index.write_tree(repo)
    repo.create_commit("refs/heads/main", _sig(), _sig(), "submodule", tree, [repo.head.target])
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "submodule" in rec.plan().plan.held_files["vendor-jobs"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_over_the_size_limit_holds_everything(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    src = synced(tmp_path, backend, kind)
    big = dump(job_doc("job-a")) + "---\n" + dump(job_doc("job-b")) + "# padding\n" * 400
    src.put({"job-b.yaml": None, "job-a.yaml": big})  # job-b moved into a file over the limit
    rec = reconciler(src, backend, max_file_size=2048)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    assert "IO003" in rec.plan().plan.held_files["job-a.yaml"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_sound_source_still_prunes(tmp_path: Path, backend: LocalBackend, kind: str) -> None:
    """The rule holds back prune only while something is not understood: fixed, the deletion goes ahead."""
    src = synced(tmp_path, backend, kind)
    src.put({"job-b.yaml": None, "job-a.yaml": BROKEN_YAML})
    rec = reconciler(src, backend)
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B)
    src.put({"job-a.yaml": job_doc("job-a")})
    _, result = rec.sync()
    assert outcomes(result) == {"job-a": Outcome.UNCHANGED, "job-b": Outcome.PRUNED}
    assert backend.get_inventory(rec.source_id) == {JOB_A}


def test_held_objects_show_in_status_files_and_status(tmp_path: Path) -> None:
    from reconciler.apply.status_records import records_of
    from reconciler.status import StatusFiles

    b = local_backend(tmp_path / "state")
    try:
        src = synced(tmp_path, b, "dir")
        src.put({"job-b.yaml": None, "job-a.yaml": BROKEN_YAML})
        _, result = reconciler(src, b).sync()
        records = {r.ref.name: r for r in records_of(result)}
        assert records["job-b"].sync_state == "Held" and "nothing is pruned" in records["job-b"].message
        assert records["job-a"].sync_state == "Held" and "YAML001" in records["job-a"].message
        files = StatusFiles(tmp_path / "status")
        files.write(list(records.values()))
        text = (tmp_path / "status/cross-domain/KusciaJob/job-b.yaml").read_text()
        assert "state: Held" in text
    finally:
        b.close()


# -- kill -9 in the middle of a sync ------------------------------------------------------------------------


def test_kill_9_mid_sync_never_orphans_a_created_job(tmp_path: Path) -> None:
    """A sync killed at several points: every job it created is in the inventory (created in the same
    transaction), so the next sync, after the files are gone, prunes every one of them."""
    src = tmp_path / "src"
    n = 400
    for i in range(n):
        write(src, f"jobs/job-{i:03}.yaml", job_doc(f"job-{i:03}"))
    write(src, "keep.yaml", job_doc("keep"))
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    store_check = local_backend(tmp_path / "state")
    source_id = DirectorySource(src).source_id
    kill_points = [5, 60, 150]  # well before the last create, so the kill lands among the creates under load

    def jobs_now() -> int:
        return len(store_check.store.refs("KusciaJob"))
    try:
        for point in kill_points:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reconciler", "sync", str(src), "--config", str(cfg)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(
                    lambda p=proc, k=point: jobs_now() >= k or p.poll() is not None,
                    timeout=60,
                    what=f"{point} jobs created",
                )
            finally:
                killed_mid_sync = proc.poll() is None
                proc.kill()
                proc.wait()
            live = {o.ref for o in store_check.list("KusciaJob") if own.is_managed(o)}
            assert killed_mid_sync and len(live) < n + 1, len(live)
            inventory = store_check.get_inventory(source_id)
            assert live <= inventory, sorted(live - inventory)[:5]  # nothing orphaned
        for i in range(n):
            (src / f"jobs/job-{i:03}.yaml").unlink()
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "sync", str(src), "--config", str(cfg), "--prune"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        assert [o.name for o in store_check.list("KusciaJob")] == ["keep"]
        assert store_check.get_inventory(source_id) == {ObjectRef.of("KusciaJob", "keep")}
    finally:
        store_check.close()


# -- found by a hostile probe: a file cut at a document boundary, live taskIDs, a held AppImage --------


@pytest.mark.parametrize("kind", KINDS)
def test_a_multi_document_file_cut_at_a_document_boundary_holds_what_it_lost(
    tmp_path: Path, backend: LocalBackend, kind: str
) -> None:
    """The file is still there and loads, but no longer yields job-d: held (it reads exactly like a
    truncation), until the file is deleted or the prune is confirmed by name."""
    src = Source(tmp_path, kind)
    two = dump(job_doc("job-a")) + "---\n" + dump(job_doc("job-d"))
    src.put({"two.yaml": two, "b.yaml": job_doc("job-b")})
    rec = reconciler(src, backend)
    rec.sync()
    src.put({"two.yaml": dump(job_doc("job-a"))})
    job_d = ObjectRef.of("KusciaJob", "job-d")
    assert_nothing_pruned(backend, rec, JOB_A, JOB_B, job_d)
    assert "--confirm-prune job-d" in held_reasons(rec)
    source = DirectorySource(src.root) if src.repo is None else GitSource(str(src.root))
    confirmed = Reconciler(source, backend, PlanOptions(prune=True, confirm_prune=frozenset({"job-d"})))
    _, result = confirmed.sync()
    assert outcomes(result)["job-d"] == Outcome.PRUNED


def test_a_new_job_claiming_a_live_task_id_is_held_as_job_create_refuses_it(
    tmp_path: Path, backend: LocalBackend
) -> None:
    src = Source(tmp_path, "dir")
    taken = job_doc("manual-y")
    taken["spec"]["tasks"][0]["taskID"] = "job-x-t1"
    backend.create(Resource.from_manifest(taken))  # made by hand (job create), outside the source
    new = job_doc("job-e")
    new["spec"]["tasks"][0]["taskID"] = "job-x-t1"
    src.put({"e.yaml": new, "b.yaml": job_doc("job-b")})
    plan, result = reconciler(src, backend).sync()
    assert outcomes(result) == {
        "job-b": Outcome.CREATED,
        "job-e": Outcome.HELD,
        "manual-y": Outcome.UNMANAGED,
    }
    held = next(e for e in plan.plan.entries if e.ref.name == "job-e")
    assert "XF002" in held.reason and "KusciaJob/cross-domain/manual-y" in held.reason
    assert backend.get(ObjectRef.of("KusciaJob", "job-e")) is None


def test_a_job_whose_appimage_is_held_is_held_too(tmp_path: Path, backend: LocalBackend) -> None:
    """Created, it would fail for good ("AppImage does not exist"), and stay Failed once the AppImage is
    fixed: jobs are one-shot."""
    src = Source(tmp_path, "dir")
    broken = appimage_doc()
    del broken["spec"]["deployTemplates"][0]["spec"]["containers"][0]["workingDir"]
    src.put({"app.yaml": broken, "job.yaml": job_doc("job-a")})
    plan, result = reconciler(src, backend).sync()
    assert outcomes(result) == {"noop-image": Outcome.HELD, "job-a": Outcome.HELD}
    held = next(e for e in plan.plan.entries if e.ref.name == "job-a")
    assert "uses AppImage noop-image, which is held" in held.reason
    src.put({"app.yaml": appimage_doc()})
    _, result = reconciler(src, backend).sync()
    assert outcomes(result) == {"noop-image": Outcome.CREATED, "job-a": Outcome.CREATED}


def test_a_file_that_cannot_be_read_when_parsed_is_held_with_validate_s_rule() -> None:
    """A file listed, then gone (or locked) when its bytes are read: held with IO001 and the system's reason,
    the words validate gives an unreadable file, never a missing file read as a deletion."""
    from reconciler.plan.desired import DesiredStateBuilder
    from reconciler.source.snapshot import SourceFile

    def vanished() -> bytes:
        raise FileNotFoundError(2, "No such file or directory")

    good = SourceFile("jobs/job-a.yaml", "d1", lambda: dump(job_doc("job-a")).encode())
    gone = SourceFile("jobs/job-b.yaml", "d2", vanished)
    state = DesiredStateBuilder().build("src", "rev", [good, gone])
    assert state.held_paths == {"jobs/job-b.yaml": "IO001 cannot read the file (No such file or directory)"}
    assert [ref.name for ref in state.objects] == ["job-a"]
