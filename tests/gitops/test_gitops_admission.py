"""Sync is a way in: what validate refuses never reaches the backend, and the backend itself checks again."""

from __future__ import annotations

from pathlib import Path

from reconciler.apply import Outcome, Reconciler
from reconciler.source import DirectorySource

from .gitops_support import job_doc, local_backend, write


def test_sync_holds_an_integer_beyond_its_format_and_creates_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "jobs/job-a.yaml", job_doc("job-a"))
    bad = job_doc("job-b")
    bad["spec"]["tasks"][0]["priority"] = 10**20  # beyond int64: the API server refuses it
    write(src, "jobs/job-b.yaml", bad)
    other_ns = job_doc("job-c")
    other_ns["metadata"]["namespace"] = "team-a"  # a warning (Kuscia would never run it), not an error
    write(src, "jobs/job-c.yaml", other_ns)
    backend = local_backend(tmp_path / "state")
    try:
        _, result = Reconciler(DirectorySource(src), backend).sync()
        by_name = {a.ref.name: a for a in result.applied}
        assert by_name["job-a"].outcome is Outcome.CREATED
        assert by_name["job-c"].outcome is Outcome.CREATED
        assert by_name["job-b"].outcome is Outcome.HELD
        assert "SCHEMA004" in by_name["job-b"].message and "int64" in by_name["job-b"].message
        assert sorted(j.name for j in backend.list("KusciaJob")) == ["job-a", "job-c"]
    finally:
        backend.close()
