"""``--ref NAME`` resolves as ``git rev-parse`` does (gitrevisions(7)): NAME, refs/NAME, refs/tags/NAME,
refs/heads/NAME, refs/remotes/NAME, refs/remotes/NAME/HEAD, then a commit id. A name that is both a branch and
a tag means the tag, with a warning; fully qualified refs choose. Real repositories: a local one, and a bare
repository served as a file:// remote."""

from __future__ import annotations

import logging
from pathlib import Path

import pygit2
import pytest

from reconciler.apply.session import open_session
from reconciler.source import GitSource, SourceError

from .gitops_support import SIG, Repo, job_doc, local_backend
from .test_gitops_cli import kgitops
from .test_gitops_status import config


def _repo_with_branch_and_tag_v1(path: Path, bare: bool) -> tuple[Repo, dict[str, str]]:
    """main: job-main; branch v1: job-branch; tag v1 (annotated): job-tag; tag rel (lightweight): job-rel."""
    repo = Repo(path, bare=bare)
    ids = {"main": repo.commit({"job-main.yaml": job_doc("job-main")})}
    ids["tag"] = repo.commit({"job-tag.yaml": job_doc("job-tag")}, branch="scratch")
    repo.repo.create_tag("v1", pygit2.Oid(hex=ids["tag"]), pygit2.enums.ObjectType.COMMIT, SIG, "release v1")
    ids["branch"] = repo.commit({"job-branch.yaml": job_doc("job-branch")}, branch="v1")
    ids["rel"] = repo.commit({"job-rel.yaml": job_doc("job-rel")}, branch="scratch")
    repo.repo.references.create("refs/tags/rel", pygit2.Oid(hex=ids["rel"]))
    return repo, ids


@pytest.fixture(params=["local", "remote"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str], Path]:
    """(location, commit ids, cache dir) of a local repository or of a bare repository used as a URL."""
    remote = request.param == "remote"
    repo, ids = _repo_with_branch_and_tag_v1(tmp_path / ("remote.git" if remote else "repo"), bare=remote)
    location = repo.path.as_uri() if remote else str(repo.path)
    return location, ids, tmp_path / "cache"


def _resolve(source: tuple[str, dict[str, str], Path], ref: str) -> tuple[str, str]:
    location, _, cache = source
    full, commit = GitSource(location, ref=ref, cache_dir=cache).resolve_ref(ref)
    return full, str(commit.id)


@pytest.mark.parametrize(
    ("ref", "full", "which"),
    [
        ("main", "refs/heads/main", "main"),
        ("rel", "refs/tags/rel", "rel"),
        ("refs/heads/v1", "refs/heads/v1", "branch"),
        ("refs/tags/v1", "refs/tags/v1", "tag"),
        ("heads/v1", "refs/heads/v1", "branch"),  # the refs/NAME rule
        ("tags/v1", "refs/tags/v1", "tag"),
        ("refs/heads/main", "refs/heads/main", "main"),
    ],
)
def test_refs_resolve_as_git_does(
    source: tuple[str, dict[str, str], Path], ref: str, full: str, which: str
) -> None:
    assert _resolve(source, ref) == (full, source[1][which])


def test_a_branch_and_a_tag_of_one_name_mean_the_tag_with_a_warning(
    source: tuple[str, dict[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    location, ids, cache = source
    src = GitSource(location, ref="v1", cache_dir=cache)
    with caplog.at_level(logging.WARNING, logger="kgitops.source"):
        assert src.fetch() == ids["tag"]  # an annotated tag peels to its commit
        src.fetch()
    [record] = [r for r in caplog.records if r.name == "kgitops.source"]  # once, not on every poll
    message = record.getMessage()
    assert "ref `v1` is ambiguous: it names the tag refs/tags/v1 and also refs/heads/v1" in message
    assert "--ref refs/heads/v1" in message
    assert [f.path for f in src.snapshot(ids["tag"]).files] == ["job-main.yaml", "job-tag.yaml"]


def test_commit_ids_full_and_abbreviated(source: tuple[str, dict[str, str], Path]) -> None:
    ids = source[1]
    assert _resolve(source, ids["branch"]) == ("", ids["branch"])
    assert _resolve(source, ids["branch"][:10]) == ("", ids["branch"])


def test_an_unknown_ref_names_what_exists(source: tuple[str, dict[str, str], Path]) -> None:
    location, _, cache = source
    with pytest.raises(SourceError) as err:
        GitSource(location, ref="mian", cache_dir=cache).fetch()
    message = str(err.value)
    assert "ref `mian` not found: no branch, tag or commit of that name; did you mean `main`?" in message
    assert "branches: main, scratch, v1; tags: rel, v1" in message


def test_a_remote_branch_is_read_from_the_remote_not_from_the_clones_stale_copy(tmp_path: Path) -> None:
    repo, ids = _repo_with_branch_and_tag_v1(tmp_path / "remote.git", bare=True)
    src = GitSource(repo.path.as_uri(), ref="refs/heads/main", cache_dir=tmp_path / "cache")
    assert src.fetch() == ids["main"]
    newer = repo.commit({"job-new.yaml": job_doc("job-new")})
    assert src.fetch() == newer
    assert GitSource(repo.path.as_uri(), ref="main", cache_dir=tmp_path / "cache").fetch() == newer
    assert GitSource(repo.path.as_uri(), ref="HEAD", cache_dir=tmp_path / "cache").fetch() == newer


def test_the_tracked_branch_of_a_fully_qualified_ref_is_its_short_name(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    assert GitSource(str(repo.path), ref="refs/heads/main").tracked_branch == "main"
    cfg = config(tmp_path / "repo", tmp_path / "state", git=True)
    cfg.source.ref = "refs/heads/main"
    cfg.status.branch = "main"
    backend = local_backend(tmp_path / "state")
    try:
        with pytest.raises(SourceError, match="is the branch kgitops reads manifests from"):
            open_session(cfg, backend)
    finally:
        backend.close()


def test_diff_of_a_remote_at_an_ambiguous_ref_warns_and_reads_the_tag(tmp_path: Path) -> None:
    repo, _ = _repo_with_branch_and_tag_v1(tmp_path / "remote.git", bare=True)
    url = repo.path.as_uri()
    state = tmp_path / "state"
    done = kgitops("diff", url, "--ref", "v1", "--state-dir", state, "-o", "json")
    assert done.returncode == 1, done.stderr
    assert "job-tag" in done.stdout and "job-branch" not in done.stdout
    assert "warning:" in done.stderr and "ref `v1` is ambiguous" in done.stderr
    branch = kgitops("diff", url, "--ref", "refs/heads/v1", "--state-dir", state, "-o", "json")
    assert branch.returncode == 1, branch.stderr
    assert "job-branch" in branch.stdout
    assert "ambiguous" not in branch.stderr
    missing = kgitops("diff", url, "--ref", "v2", "--state-dir", state)
    assert missing.returncode == 2
    assert "ref `v2` not found" in missing.stderr and "Traceback" not in missing.stderr


def test_a_short_and_a_full_spelling_of_a_ref_are_one_source(tmp_path: Path) -> None:
    """Switching `--ref main` to `--ref refs/heads/main` keeps the inventory (nothing is orphaned)."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"job-a.yaml": job_doc("job-a")})
    ids = {GitSource(str(repo.path), ref=r).source_id for r in ("main", "refs/heads/main")}
    assert ids == {f"git:{repo.path.resolve()}#main:."}
    tag = GitSource(str(repo.path), ref="refs/tags/v1")
    assert tag.source_id == GitSource(str(repo.path), ref="v1").source_id
