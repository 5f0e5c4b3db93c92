"""Commit statuses from a real sync: one per job on the synced revision, posted only when they change, and a
forge that fails never fails the sync: the failure is counted and the status posted at the next chance."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gitops.gitops_support import Repo, appimage_doc, config, job_doc, local_backend, wait_for

from reconciler.apply.session import open_session
from reconciler.forge import StatusReporter
from reconciler.forge.github import GitHub

from .standin import StandInForge


def test_statuses_follow_the_sync_and_a_failing_forge_is_counted_not_fatal(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    bad = job_doc("bad", initiator="Not A Domain")
    sha = repo.commit(
        {
            "apps/noop.yaml": appimage_doc(),
            "a.yaml": job_doc("job-a"),
            "b.yaml": job_doc("job-b"),
            "bad.yaml": bad,
        }
    )
    backend = local_backend(tmp_path / "state")
    session = open_session(config(repo.path, tmp_path / "state", git=True), backend)
    counts: Counter[str] = Counter()
    with StandInForge() as forge:
        forge.state.script = [(503, {})] * 3  # the first post fails even after its retries (3 attempts)
        gh = GitHub("example-org/jobs", "t0ken", forge.url, backoff=0.01)
        gh.api.attempts = 3
        reporter = StatusReporter(gh, on_post=lambda result: counts.update([result]))
        try:
            planned = session.reconciler.plan()
            _, result = session.reconciler.sync(planned=planned)
            reporter.observe(result)  # only enqueues: the sync is done whatever the forge does
            wait_for(lambda: counts["failed"] == 1 and counts["posted"] == 2, what="one failed, two posted")
            assert len(forge.state.latest()) == 2 and {x["sha"] for x in forge.state.statuses} == {sha}
            reporter.observe(result)  # the same result again: only the failed one is posted now
            wait_for(lambda: counts["posted"] == 3, what="the failed status posted at the next chance")
            latest = forge.state.latest()
            assert set(latest) == {"kgitops/job-a", "kgitops/job-b", "kgitops/bad"}
            assert latest["kgitops/job-a"]["state"] == "pending"  # created; the engine is not driven here
            assert latest["kgitops/bad"]["state"] == "failure"
            assert latest["kgitops/bad"]["description"].startswith("held: ")
            reporter.observe(result)
            reporter.close()
            assert counts["posted"] == 3  # unchanged statuses are not posted again
        finally:
            backend.close()
