"""Reserved label and annotation keys: a manifest that sets a key Kuscia's controllers or kgitops write is an
error of `validate` (META006, naming the key and its position) and its object is held by `sync`, never
created with the key silently overwritten or kept; a stage label, as `kubectl get -o yaml` shows a job, is a
warning (META007); `job update` refuses exactly these keys (one rule,
``reconciler.kuscia.labels.reserved_owner``); the keys users set (``kgitops.io/prune``, ``on-change``,
``priority``, Kuscia's interconn annotations) pass both. Real processes and the real embedded engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .gitops_support import appimage_doc, job_doc, write, write_config

RESERVED = [
    ("labels", "kgitops.io/managed-by", "kgitops"),
    ("labels", "kuscia.secretflow/job-uid", "123"),
    ("labels", "kuscia.secretflow/controller", "kuscia-job"),
    ("annotations", "kgitops.io/spec-hash", "x"),
    ("annotations", "approvals.kgitops.io/bob", "{}"),
    ("annotations", "kuscia.secretflow/task-alias", "psi"),
]
STAGE = [
    ("labels", "kuscia.secretflow/job-stage", "Stop"),
    ("labels", "kuscia.secretflow/job-stage-version", "1"),
]
ALLOWED = [
    ("annotations", "kgitops.io/prune", "disabled"),
    ("annotations", "kgitops.io/on-change", "recreate"),
    ("annotations", "kgitops.io/priority", "HIGH"),
    ("annotations", "kuscia.secretflow/self-cluster-as-initiator", "true"),
    ("annotations", "kuscia.secretflow/initiator", "alice"),
    ("annotations", "kuscia.secretflow/interconn-kuscia-parties", "bob"),
    ("labels", "kuscia.secretflow/interconn-protocol-type", "kuscia"),
    ("annotations", "kuscia.secretflow/component-spec", "{}"),  # Kuscia's own BFIA AppImages carry it
]


def kgitops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def reserved_findings(path: Path) -> list[tuple[str, str, int, int, str]]:
    done = kgitops("validate", path, "-o", "json")
    return [
        (f["rule"], f["severity"], f["line"], f["column"], f["message"])
        for f in json.loads(done.stdout)["findings"]
        if f["rule"] in ("META006", "META007")
    ]


@pytest.mark.parametrize(("what", "key", "value"), RESERVED + STAGE + ALLOWED)
def test_validate_and_job_update_judge_a_key_alike(tmp_path: Path, what: str, key: str, value: str) -> None:
    reserved = (what, key, value) in RESERVED + STAGE
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    doc = job_doc("job-a")
    doc["metadata"][what] = {key: value}
    path = write(tmp_path / "src", "job-a.yaml", doc)
    found = reserved_findings(path)
    if (what, key, value) in STAGE:  # as `kubectl get -o yaml` shows a job: a warning, the job runs
        assert [f[:4] for f in found] == [("META007", "warning", 6, 5)]
        assert "is Kuscia's stage command: the job would be created with it" in found[0][4]
    elif reserved:
        owner = "Kuscia" if key.startswith("kuscia.secretflow/") else "kgitops"
        assert [f[:4] for f in found] == [("META006", "error", 6, 5)]  # the key itself: metadata.labels.KEY
        assert f"{what[:-1]} key {key!r} belongs to {owner}" in found[0][4]
    else:
        assert found == []
    write(tmp_path / "plain", "job-a.yaml", job_doc("job-a"))
    assert kgitops("job", "create", "-f", tmp_path / "plain/job-a.yaml", "--config", cfg).returncode == 0
    flag = "--label" if what == "labels" else "--annotation"
    update = kgitops("job", "update", "job-a", flag, f"{key}={value}", "--config", cfg)
    if reserved:
        assert update.returncode == 2 and f"`{key}` belongs to" in update.stderr, update.stderr
    else:
        assert update.returncode == 0, update.stderr


def test_sync_holds_a_job_that_sets_reserved_keys(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    src = tmp_path / "src"
    write(src, "apps/noop.yaml", appimage_doc())
    doc = job_doc("job-a")
    doc["metadata"]["labels"] = {"kuscia.secretflow/job-uid": "123", "team": "risk"}
    write(src, "jobs/job-a.yaml", doc)
    done = kgitops("sync", src, "--config", cfg)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "held        KusciaJob/cross-domain/job-a" in done.stdout and "META006" in done.stdout
    shown = kgitops("job", "show", "job-a", "--config", cfg)
    assert shown.returncode != 0  # never created with Kuscia's label on it
