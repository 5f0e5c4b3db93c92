"""The incremental sync (``Reconciler.sync_differences``, what ``kgitops sync`` runs without status
write-back): over the same commits and out-of-band changes, it leaves the same live objects and inventory,
prints the same lines and exits with the same code as a full sync, while judging only what changed."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from reconciler.apply.session import Session, open_session
from reconciler.apply.sync import SyncResult
from reconciler.cli.exitcodes import sync_code
from reconciler.model import ObjectRef
from reconciler.plan import ownership as own
from reconciler.plan.diff import PLANNED_KINDS
from reconciler.plan.plan_base import base_path
from reconciler.render.sync import sync_lines
from reconciler.sdk.gitops import SyncReport
from reconciler.sdk.sync_report import sync_problems

from .gitops_support import Repo, appimage_doc, config, job_doc, local_backend, write_config

NS = "cross-domain"  # where a job of two parties lives


def shown(result: SyncResult) -> tuple[int, list[str], list[str]]:
    """The exit code and the stdout and stderr lines ``kgitops sync`` shows for a result."""
    problems = sync_problems(result)
    out, err = sync_lines(result, problems, result.dry_run)
    return sync_code(SyncReport(result, [], [], problems)), out, err


def live_state(session: Session) -> tuple[list[tuple[Any, ...]], list[ObjectRef]]:
    """Every live object as the source sees it (ref, labels, annotations but the prune time, spec), and the
    source's inventory, both sorted."""
    objects = []
    for kind in PLANNED_KINDS:
        for o in session.backend.list(kind):
            notes = {k: v for k, v in o.annotations.items() if k != own.STOPPED_AT}
            objects.append((str(o.ref), sorted(o.labels.items()), sorted(notes.items()), repr(o.spec)))
    inventory = sorted(session.backend.get_inventory(session.source.source_id), key=str)
    return sorted(objects), inventory


def two_sessions(tmp_path: Path, repo: Repo, prune: bool = True) -> tuple[Session, Session]:
    """Two state directories on the same source: ``a`` syncs incrementally, ``b`` always in full."""
    out = []
    for name in ("a", "b"):
        state = tmp_path / f"state-{name}"
        cfg = config(repo.path, state, git=True, prune=prune)
        cfg.status.commit = False  # status write-back needs every entry: a full sync
        out.append(open_session(cfg, local_backend(state)))
    return out[0], out[1]


def test_incremental_syncs_leave_what_full_syncs_leave(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "apps/noop.yaml": appimage_doc(),
            **{f"jobs/job-{c}.yaml": job_doc(f"job-{c}") for c in "abcd"},
            **{f"jobs/more-{k}.yaml": job_doc(f"more-{k}") for k in range(6)},
        }
    )
    a, b = two_sessions(tmp_path, repo)

    def both() -> int:
        """Sync both; assert the same outcome; return how many refs the incremental one judged (-1: in
        full)."""
        result_a = a.sync_and_write(differences_only=True)[1]
        judged = a.reconciler.incremental_last
        result_b = b.reconciler.sync()[1]
        assert shown(result_a) == shown(result_b)
        assert live_state(a) == live_state(b)
        return judged

    assert both() == -1  # no base yet
    labelled = job_doc("job-a")
    labelled["metadata"]["labels"] = {"team": "x"}
    steps: list[tuple[str, dict[str, Any], bool]] = [
        ("nothing changed since the first sync", {}, True),  # judges what that sync created (11 objects)
        ("nothing changed", {}, True),
        ("a label edit", {"jobs/job-a.yaml": labelled}, True),
        ("a spec change of a job (out of sync)", {"jobs/job-b.yaml": job_doc("job-b", ("psi", "x"))}, True),
        ("an added job", {"jobs/job-e.yaml": job_doc("job-e")}, True),
        ("a broken file", {"jobs/job-c.yaml": "kind: KusciaJob\nmetadata: {name: [oops\n"}, False),
        ("the file fixed", {"jobs/job-c.yaml": job_doc("job-c")}, False),  # the broken one left no base
        ("after a full sync", {"jobs/job-f.yaml": job_doc("job-f")}, True),
        ("a deleted file: a prune", {"jobs/job-d.yaml": None}, False),
        ("after the prune", {"jobs/job-g.yaml": job_doc("job-g")}, True),
    ]
    for what, files, patched in steps:
        if files:
            repo.commit(files)
        judged = both()
        assert (judged >= 0) == patched, (what, judged)
        if patched and what != steps[0][0]:
            assert judged <= 4, (what, judged)  # what the change touches, not every object
    for s in (a, b):  # out of band: a live job deleted, another's labels changed
        s.backend.delete(ObjectRef("KusciaJob", NS, "job-e"))
        s.backend.update_metadata(ObjectRef("KusciaJob", NS, "job-f"), labels={"x": "2"})
    assert both() >= 0
    repo.commit({"jobs/job-h.yaml": job_doc("job-h")})
    assert both() >= 0


def test_a_prune_that_is_not_enabled_is_reported_by_an_incremental_sync(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    repo.commit({"jobs/job-b.yaml": job_doc("job-b")})
    a, b = two_sessions(tmp_path, repo, prune=False)
    for _ in range(2):
        assert shown(a.sync_and_write(differences_only=True)[1]) == shown(b.reconciler.sync()[1])
    repo.commit({"jobs/job-a.yaml": None})
    result_a = a.sync_and_write(differences_only=True)[1]
    assert a.reconciler.incremental_last >= 0
    code, out, err = shown(result_a)
    assert (code, out, err) == shown(b.reconciler.sync()[1])
    assert code == 1 and any("prune is not enabled" in line for line in out), out
    assert live_state(a) == live_state(b)


def test_a_sync_finds_inventory_it_must_fix_and_syncs_in_full(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    a, b = two_sessions(tmp_path, repo)
    a.sync_and_write(differences_only=True)
    b.reconciler.sync()
    for s in (a, b):  # out of band: the job leaves the inventory but keeps this source's labels
        s.backend.update_inventory(s.source.source_id, remove={ObjectRef("KusciaJob", NS, "job-a")})
    repo.commit({"jobs/job-b.yaml": job_doc("job-b")})
    result_a = a.sync_and_write(differences_only=True)[1]
    assert a.reconciler.incremental_last == -1
    assert shown(result_a) == shown(b.reconciler.sync()[1])
    assert live_state(a) == live_state(b)
    assert ObjectRef("KusciaJob", NS, "job-a") in a.backend.get_inventory(a.source.source_id)


def test_the_cli_sync_prints_what_a_full_sync_prints(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})

    def kgitops(state: str, *args: str) -> tuple[int, str, str]:
        cfg = write_config(tmp_path / f"{state}.yaml", tmp_path / state)
        out = subprocess.run(
            [sys.executable, "-m", "reconciler", *args, str(repo.path), "--git", "--config", str(cfg),
             "--no-status-commit"],
            capture_output=True, text=True, timeout=120,
        )
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, out.stdout, out.stderr

    for state in ("kept", "none"):
        assert kgitops(state, "sync")[0] == 0
    assert base_path(tmp_path / "kept").is_file()
    commits: tuple[dict[str, dict | str | None], ...] = (
        {"jobs/job-b.yaml": job_doc("job-b")},
        {"jobs/job-a.yaml": job_doc("job-a", ("x",))},  # out of sync: exit 1
        {},
        {"jobs/job-a.yaml": job_doc("job-a")},
    )
    for files in commits:
        if files:
            repo.commit(files)
        base_path(tmp_path / "none").unlink(missing_ok=True)
        assert kgitops("kept", "sync", "--dry-run") == kgitops("none", "sync", "--dry-run")
        base_path(tmp_path / "none").unlink(missing_ok=True)
        assert kgitops("kept", "sync") == kgitops("none", "sync")
        assert kgitops("kept", "sync", "-o", "json") == kgitops("none", "sync", "-o", "json")


def test_a_diff_beside_a_sync_leaves_a_base_that_plans_right(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"apps/noop.yaml": appimage_doc(), "jobs/job-a.yaml": job_doc("job-a")})
    a, b = two_sessions(tmp_path, repo)
    a.sync_and_write(differences_only=True)
    b.reconciler.sync()
    errors: list[BaseException] = []

    def diff() -> None:
        try:
            other = open_session(a.config, local_backend(a.config.state_dir))
            other.reconciler.plan_differences()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for k in range(3):
        repo.commit({f"jobs/job-n{k}.yaml": job_doc(f"job-n{k}")})
        thread = threading.Thread(target=diff)
        thread.start()
        result_a = a.sync_and_write(differences_only=True)[1]
        thread.join(timeout=60)
        assert not errors
        assert shown(result_a) == shown(b.reconciler.sync()[1])
        assert live_state(a) == live_state(b)
    repo.commit({"jobs/job-z.yaml": job_doc("job-z")})
    result_a = a.sync_and_write(differences_only=True)[1]
    assert shown(result_a) == shown(b.reconciler.sync()[1])
    assert live_state(a) == live_state(b)
