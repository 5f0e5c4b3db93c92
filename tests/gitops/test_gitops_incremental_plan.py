"""The incremental plan (``Reconciler.plan_differences``, what ``kgitops diff`` runs): patched onto the
previous plan's base (``<state_dir>/cache/plan-base.sqlite``), it shows byte for byte what a full plan shows,
over edits, adds, deletes, a broken and a fixed file, out-of-band live changes and syncs; whatever it cannot
prove sends it the full way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.apply.reconcile import Reconciler
from reconciler.apply.session import Session, open_session, open_source, plan_options
from reconciler.cli.exitcodes import diff_code
from reconciler.model import ObjectRef
from reconciler.plan.plan_base import base_path
from reconciler.render.plan import render_text

from .gitops_support import Repo, appimage_doc, config, job_doc, local_backend, write_config


def tasked(name: str, task_id: str) -> dict:
    doc = job_doc(name)
    doc["spec"]["tasks"][0]["taskID"] = task_id
    return doc


def full_text(session: Session) -> tuple[int, str]:
    """What a full plan (no base, no caches) shows and exits with."""
    rec = Reconciler(open_source(session.config), session.backend, plan_options(session.config))
    plan = rec.plan().plan
    return diff_code(plan.error, plan.in_sync), render_text(plan)


def incremental_text(session: Session) -> tuple[int, str, int]:
    plan = session.reconciler.plan_differences()
    judged = session.reconciler.incremental_last
    return diff_code(plan.error, plan.in_sync), render_text(plan), judged


LABELLED = {"name": "job-a", "labels": {"x": "1"}}
NS = "cross-domain"  # where a job of two parties lives


@pytest.fixture
def session(tmp_path: Path) -> Session:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "apps/noop.yaml": appimage_doc(),
            "jobs/job-a.yaml": tasked("job-a", "task-a"),
            "jobs/job-b.yaml": tasked("job-b", "task-b"),
            "jobs/job-c.yaml": job_doc("job-c"),
        }
    )
    state = tmp_path / "state"
    s = open_session(config(repo.path, state, git=True), local_backend(state))
    s.repo = repo  # type: ignore[attr-defined]
    return s


def test_incremental_plans_equal_full_plans_over_a_sequence_of_changes(session: Session) -> None:
    repo: Repo = session.repo  # type: ignore[attr-defined]
    rec = session.reconciler
    first = incremental_text(session)
    assert first[2] == -1  # no base yet: a full plan, which becomes the base
    assert first[:2] == full_text(session)
    rec.sync()
    steps: list[tuple[str, object, bool]] = [
        ("edit", {"jobs/job-a.yaml": tasked("job-a", "task-a") | {"metadata": LABELLED}}, True),
        ("spec change", {"jobs/job-c.yaml": job_doc("job-c", ("psi", "train"))}, True),
        ("add", {"jobs/job-d.yaml": job_doc("job-d")}, True),
        ("delete", {"jobs/job-b.yaml": None}, True),
        ("a new job claims the taskID of a live job", {"jobs/job-e.yaml": tasked("job-e", "task-b")}, True),
        ("broken file", {"jobs/job-c.yaml": "kind: KusciaJob\nmetadata: {name: [oops\n"}, False),
        ("fixed file", {"jobs/job-c.yaml": job_doc("job-c")}, False),  # the broken plan left no base
        ("delete a file that defined a live job", {"jobs/job-a.yaml": None}, True),
        ("nothing changed", {}, True),
    ]
    for what, files, patched in steps:
        if files:
            repo.commit(files)  # type: ignore[arg-type]
        code, text, judged = incremental_text(session)
        full = full_text(session)
        assert (code, text) == full, f"{what}\n{text}\n---\n{full[1]}"
        assert (judged >= 0) == patched, (what, judged)
        if patched:
            assert judged <= 4, (what, judged)  # the refs it touches, not every object
    # a sync creates what is new (the change feed names it); then, out of band, a live job is deleted and
    # another's labels change
    rec.sync()
    code, text, judged = incremental_text(session)
    assert judged >= 0 and (code, text) == full_text(session)
    assert "+ create" not in text
    session.backend.delete(ObjectRef("KusciaJob", NS, "job-c"))
    session.backend.update_metadata(ObjectRef("KusciaJob", NS, "job-d"), labels={"x": "2"})
    code, text, judged = incremental_text(session)
    assert judged >= 0 and (code, text) == full_text(session)
    assert "deleted outside kgitops" in text


def test_the_cli_diff_prints_what_a_full_plan_prints(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")

    def kgitops(command: str) -> tuple[int, str, str]:
        out = subprocess.run(
            [sys.executable, "-m", "reconciler", command, str(repo.path), "--git", "--config", str(cfg)],
            capture_output=True, text=True, timeout=120,
        )
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, out.stdout, out.stderr

    def diff() -> tuple[int, str, str]:
        return kgitops("diff")

    assert kgitops("sync")[0] == 0
    assert diff()[0] == 0
    base = base_path(tmp_path / "state")
    assert base.is_file()
    commits = (
        {"jobs/job-b.yaml": job_doc("job-b")},
        {"jobs/job-a.yaml": None},
        {"jobs/job-a.yaml": job_doc("job-a", ("x",))},
    )
    for files in commits:
        repo.commit(files)  # type: ignore[arg-type]
        patched = diff()
        kept = tmp_path / "kept.sqlite"
        shutil.copy(base, kept)
        base.unlink()
        assert patched == diff()  # the same bytes, the same exit code, from a full plan
        shutil.copy(kept, base)


def test_a_damaged_base_is_a_full_plan(session: Session) -> None:
    repo: Repo = session.repo  # type: ignore[attr-defined]
    incremental_text(session)
    session.reconciler.plan_base.close()  # type: ignore[union-attr]
    base = base_path(session.config.state_dir)
    base.write_bytes(b"not a database" * 100)
    repo.commit({"jobs/job-d.yaml": job_doc("job-d")})
    code, text, judged = incremental_text(session)
    assert judged == -1 and (code, text) == full_text(session)
    repo.commit({"jobs/job-e.yaml": job_doc("job-e")})
    assert incremental_text(session)[2] >= 0  # the full plan wrote a new base


def test_other_options_are_another_base(session: Session, tmp_path: Path) -> None:
    repo: Repo = session.repo  # type: ignore[attr-defined]
    incremental_text(session)
    repo.commit({"jobs/job-d.yaml": job_doc("job-d")})
    other = open_session(session.config, session.backend, recreate=("job-a",))
    assert other.reconciler.plan_differences() is not None
    assert other.reconciler.incremental_last == -1


def test_two_diffs_at_once_both_plan_right(session: Session) -> None:
    repo: Repo = session.repo  # type: ignore[attr-defined]
    incremental_text(session)
    session.reconciler.sync()
    repo.commit({"jobs/job-d.yaml": job_doc("job-d"), "jobs/job-a.yaml": None})
    expected = full_text(session)
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            s = open_session(session.config, local_backend(session.config.state_dir))
            results.append(incremental_text(s)[:2])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and results == [expected] * 3


def test_prunes_and_their_limit_come_out_as_in_a_full_plan(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    jobs = {f"jobs/job-{c}.yaml": job_doc(f"job-{c}") for c in "abc"}
    repo.commit({"apps/noop.yaml": appimage_doc(), **jobs})
    cfg = config(repo.path, tmp_path / "state", git=True, prune=True)
    cfg.prune.max = 1
    s = open_session(cfg, local_backend(tmp_path / "state"))
    incremental_text(s)
    s.reconciler.sync()
    repo.commit({"jobs/job-a.yaml": None})
    code, text, judged = incremental_text(s)
    assert judged >= 0 and (code, text) == full_text(s)
    assert "- prune     KusciaJob/cross-domain/job-a" in text
    repo.commit({"jobs/job-b.yaml": None})  # two prunes: more than prune.max, so none
    code, text, judged = incremental_text(s)
    assert (code, text) == full_text(s)
    assert "prune refused" in text


def test_a_change_too_large_to_patch_is_a_full_plan(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.apply import incremental

    repo: Repo = session.repo  # type: ignore[attr-defined]
    incremental_text(session)
    monkeypatch.setattr(incremental, "JUDGE_MIN", 1)
    repo.commit({"jobs/job-d.yaml": job_doc("job-d"), "jobs/job-e.yaml": job_doc("job-e")})
    code, text, judged = incremental_text(session)
    assert judged == -1 and (code, text) == full_text(session)
    repo.commit({"jobs/job-f.yaml": job_doc("job-f")})
    assert incremental_text(session)[2] == 1  # one new file: within the limit again


def test_a_git_tree_diff_names_the_changed_manifests_and_gives_up_on_what_a_snapshot_would_judge(
    tmp_path: Path,
) -> None:
    from reconciler.source import GitSource

    repo = Repo(tmp_path / "repo")
    first = repo.commit({"jobs/a.yaml": job_doc("a"), "jobs/b.yaml": job_doc("b")})
    second = repo.commit(
        {
            "jobs/a.yaml": job_doc("a", ("x",)),
            "jobs/b.yaml": None,
            "jobs/c.yaml": job_doc("c"),
            ".github/ci.yaml": "on: push\n",  # never read by a snapshot either
            "README.md": "hello\n",
        }
    )
    source = GitSource(str(repo.path))
    found = source.changed_files(first, second)
    assert found is not None
    assert [(f.path, f.read()) for f in found.changed] == [
        ("jobs/a.yaml", repo.files["jobs/a.yaml"]),
        ("jobs/c.yaml", repo.files["jobs/c.yaml"]),
    ]
    assert found.deleted == ("jobs/b.yaml",)
    assert source.changed_files(second, second) == type(found)(second, (), ())
    third = repo.commit({"jobs/d.yaml/x.yaml": job_doc("d")})  # a directory named like a manifest
    assert source.changed_files(second, third) is None
    assert source.changed_files("0" * 40, third) is None  # an unknown commit
