"""What identifies a source (docs/gitops.md): one id however the same source is spelled, an id an earlier
kgitops recorded kept, another source's objects a conflict the user sees, and ``--path`` confined to the
source. Real Git repositories, the real embedded engine, the CLI as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest

from reconciler.model import ObjectRef
from reconciler.source import GitSource

from .gitops_support import SIG, Repo, appimage_doc, job_doc, local_backend, write_config
from .test_gitops_cli import kgitops

JOB = ObjectRef.of("KusciaJob", "job-a")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    return repo


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "kgitops.yaml", tmp_path / "state")


def test_one_git_source_has_one_id_however_it_is_spelled(repo: Repo, tmp_path: Path) -> None:
    top = repo.path.resolve()
    expected = f"git:{top}#main:jobs"
    spellings = [
        {"ref": ""},
        {"ref": "HEAD"},
        {"ref": "main"},
        {"ref": "refs/heads/main"},
        {"ref": "heads/main"},
    ]
    for ref in spellings:
        for path in ("jobs", "jobs/", "./jobs", "./jobs//", "jobs/../jobs"):
            for where in (repo.path, repo.path / "jobs", tmp_path / "." / "repo"):
                assert GitSource(str(where), subpath=path, **ref).source_id == expected, (ref, path, where)
    assert GitSource(str(repo.path)).source_id == f"git:{top}#main:."
    assert GitSource(str(repo.path), subpath="./").source_id == f"git:{top}#main:."
    # a tag by either name, a commit by its full or abbreviated id
    tip = str(repo.repo.head.target)
    repo.repo.create_tag("v1", pygit2.Oid(hex=tip), pygit2.enums.ObjectType.COMMIT, SIG, "v1")
    assert {GitSource(str(repo.path), ref=r).source_id for r in ("v1", "refs/tags/v1")} == {f"git:{top}#v1:."}
    ids = {GitSource(str(repo.path), ref=r).source_id for r in (tip, tip[:8])}
    assert ids == {f"git:{top}#{tip}:."}
    # another branch is another source; so is a detached HEAD (whatever commit it points at)
    repo.commit({"jobs/job-b.yaml": job_doc("job-b")}, branch="dev")
    assert GitSource(str(repo.path), ref="dev").source_id == f"git:{top}#dev:."
    repo.repo.set_head(pygit2.Oid(hex=tip))
    assert GitSource(str(repo.path)).source_id == f"git:{top}#HEAD:."


def test_a_url_source_without_a_ref_is_its_default_branch(tmp_path: Path) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    url = remote.path.as_uri()
    ids = {GitSource(url, ref=r, cache_dir=tmp_path / "cache").source_id for r in ("", "HEAD", "main")}
    assert ids == {f"git:{url}#main:."}


def test_diff_and_sync_agree_across_spellings_of_one_git_source(repo: Repo, cfg: Path) -> None:
    """The docs' own `diff repo --git --ref main --path jobs` after a `sync repo --git --path jobs`: the same
    source, so a pending change is a difference (it read as 4 unmanaged, exit 0)."""
    synced = kgitops("sync", repo.path, "--git", "--path", "jobs", "--config", cfg)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    for ref, path in (("main", "jobs"), ("refs/heads/main", "./jobs/"), ("HEAD", "jobs//")):
        same = kgitops("diff", repo.path, "--git", "--ref", ref, "--path", path, "--config", cfg)
        assert same.returncode == 0 and "plan: 2 unchanged" in same.stdout, same.stdout + same.stderr
    repo.commit({"jobs/job-a.yaml": job_doc("job-a", ("psi", "train"))})
    changed = kgitops("diff", repo.path, "--git", "--ref", "main", "--path", "./jobs", "--config", cfg)
    assert changed.returncode == 1 and "~ changed   KusciaJob/cross-domain/job-a" in changed.stdout
    assert "unmanaged" not in changed.stdout
    out = kgitops("sync", repo.path, "--git", "--ref", "main", "--path", "jobs/", "--config", cfg)
    assert out.returncode == 1 and "out-of-sync KusciaJob/cross-domain/job-a" in out.stdout, out.stdout


def test_another_sources_object_is_a_conflict_naming_the_owner_and_the_fix(repo: Repo, cfg: Path) -> None:
    """The same files synced as a directory, then diffed and synced as Git: two sources. Each object is a
    conflict (exit 1) that names the owner and `--source-id`; with it, the run is that source again."""
    assert kgitops("sync", repo.path / "jobs", "--config", cfg).returncode == 0
    owner = f"dir:{(repo.path / 'jobs').resolve()}"
    diff = kgitops("diff", repo.path, "--git", "--path", "jobs", "--config", cfg)
    assert diff.returncode == 1, diff.stdout + diff.stderr
    assert "! conflict  KusciaJob/cross-domain/job-a  (job-a.yaml)" in diff.stdout
    assert f"managed by another source, {owner}" in diff.stdout
    assert f"--source-id '{owner}'" in diff.stdout and "plan: 2 conflict" in diff.stdout
    as_json = kgitops("diff", repo.path, "--git", "--path", "jobs", "--config", cfg, "-o", "json")
    doc = json.loads(as_json.stdout)
    assert doc["inSync"] is False and doc["willChange"] is False
    assert {e["action"] for e in doc["entries"]} == {"conflict"}
    sync = kgitops("sync", repo.path, "--git", "--path", "jobs", "--config", cfg)
    assert sync.returncode == 1 and "not in sync: 2 conflict" in sync.stderr, sync.stdout + sync.stderr
    line = f"conflict    KusciaJob/cross-domain/job-a: the live copy is managed by another source, {owner}"
    assert line in sync.stdout
    assert not repo.repo.references.get("refs/heads/kgitops/status")  # nothing managed: no status commit
    fixed = kgitops("diff", repo.path, "--git", "--path", "jobs", "--source-id", owner, "--config", cfg)
    assert fixed.returncode == 0 and "plan: 2 unchanged" in fixed.stdout, fixed.stdout + fixed.stderr
    backend = local_backend(Path(str(cfg)).parent / "state")
    try:
        live = backend.get(JOB)
        assert live is not None and live.annotations["kgitops.io/source-id"] == owner
    finally:
        backend.close()


def test_an_id_an_earlier_kgitops_recorded_is_kept(repo: Repo, cfg: Path, tmp_path: Path) -> None:
    """State made before ids were canonical (no ref was `#HEAD`, `./jobs` stayed `./jobs`): the objects stay
    this source's — unchanged, pruned when they leave — and new ones join the same inventory."""
    old = f"git:{repo.path.resolve()}#HEAD:./jobs"
    made = kgitops("sync", repo.path, "--git", "--path", "./jobs", "--source-id", old, "--config", cfg)
    assert made.returncode == 0, made.stdout + made.stderr
    for ref in ("", "main"):
        args = ["--ref", ref] if ref else []
        same = kgitops("diff", repo.path, "--git", "--path", "jobs", *args, "--config", cfg)
        assert same.returncode == 0, same.stdout + same.stderr
        assert f"source {old} @" in same.stdout and "plan: 2 unchanged" in same.stdout
    repo.commit({"jobs/job-a.yaml": None, "jobs/job-b.yaml": job_doc("job-b")})
    out = kgitops("sync", repo.path, "--git", "--path", "jobs", "--prune", "--config", cfg)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pruned      KusciaJob/cross-domain/job-a" in out.stdout
    assert "created     KusciaJob/cross-domain/job-b" in out.stdout
    backend = local_backend(tmp_path / "state")
    try:
        created = backend.get(ObjectRef.of("KusciaJob", "job-b"))
        assert created is not None and created.annotations["kgitops.io/source-id"] == old
        assert ObjectRef.of("KusciaJob", "job-b") in backend.get_inventory(old)
        assert backend.get(JOB) is None
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("../..", "--path `../..` leaves the source"),
        ("jobs/../../x", "--path `jobs/../../x` leaves the source"),
        ("/tmp", "--path `/tmp` is an absolute path"),
    ],
)
def test_path_must_stay_inside_the_source(repo: Repo, cfg: Path, path: str, says: str) -> None:
    for source in ([repo.path, "--git"], [repo.path]):
        for command in ("diff", "sync", "status"):
            done = kgitops(command, *source, "--path", path, "--config", cfg)
            assert done.returncode == 2, (command, source, done.stdout + done.stderr)
            assert says in done.stderr and "Traceback" not in done.stderr
            assert "created" not in done.stdout


def test_a_directory_path_through_a_symlink_is_refused(repo: Repo, cfg: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "j").symlink_to(repo.path / "jobs")
    (src / "real").mkdir()
    (src / "real" / "inner").symlink_to(tmp_path)
    for path in ("j", "real/inner/repo/jobs"):
        done = kgitops("diff", src, "--path", path, "--config", cfg)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "is a symbolic link" in done.stderr and "Traceback" not in done.stderr
    ok = kgitops("diff", repo.path, "--path", "./jobs/../jobs", "--config", cfg)
    assert ok.returncode == 1 and "+ create    KusciaJob/cross-domain/job-a" in ok.stdout, ok.stderr
