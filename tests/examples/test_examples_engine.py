"""The seed's jobs run for real on the embedded engine: ``kgitops sync --wait`` on a copy of ``examples/``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from examples_runtime import EXAMPLES, JOBS, read_csv, write_workspace


def copy_examples(root: Path, jobs: list[str], small: bool = False) -> Path:
    """``root/examples``: the apps, the AppImage, the config and only ``jobs``; state in root/.kgitops."""
    ex = root / "examples"
    shutil.copytree(EXAMPLES / "appimages", ex / "appimages")
    shutil.copytree(EXAMPLES / "apps", ex / "apps", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(EXAMPLES / "kgitops.yaml", ex / "kgitops.yaml")
    if small:
        common = [f"c{i:05d}" for i in range(30)]
        small_ws = write_workspace(root / "small", common + ["a1", "a2"], ["b1"] + common)
        shutil.copytree(small_ws / "data", ex / "data")
    else:
        shutil.copytree(EXAMPLES / "data", ex / "data", ignore=shutil.ignore_patterns("*.py"))
    (ex / "jobs").mkdir()
    for job in jobs:
        shutil.copy(JOBS / f"{job}.yaml", ex / "jobs" / f"{job}.yaml")
    return ex


def kgitops(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def sync_wait(root: Path) -> subprocess.CompletedProcess[str]:
    return kgitops(
        root, "sync", "examples", "--config", "examples/kgitops.yaml", "--wait", "--timeout", "200"
    )


def job_status(root: Path, job: str) -> dict[str, Any]:
    """The job's status file, as ``sync --wait`` left it (it writes status again when the jobs end)."""
    doc: dict[str, Any] = yaml.safe_load(
        (root / ".kgitops" / "status" / "cross-domain" / "KusciaJob" / f"{job}.yaml").read_text()
    )
    live: dict[str, Any] = doc.get("live") or {}
    return live


def ids(path: Path) -> list[str]:
    return [r[0] for r in read_csv(path)[1]]


def test_quickstart_job_runs_psi_then_split_between_alice_and_bob(
    tmp_path: Path, example_ids: dict[str, set[str]]
) -> None:
    copy_examples(tmp_path, ["job-best-effort-linear"])
    result = sync_wait(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "job-best-effort-linear: Succeeded (2/2 tasks)" in result.stdout
    # the user is told where each party's outputs are
    assert "party data and outputs:" in result.stdout
    assert f"alice: {tmp_path / '.kgitops' / 'storage' / 'alice' / 'data'}" in result.stdout
    # the README's next steps: look at the job with the same config
    listed = kgitops(tmp_path, "job", "list", "--config", "examples/kgitops.yaml")
    assert listed.returncode == 0, listed.stderr
    assert "job-best-effort-linear" in listed.stdout and "Succeeded" in listed.stdout
    shown = kgitops(tmp_path, "job", "show", "job-best-effort-linear", "--config", "examples/kgitops.yaml")
    assert shown.returncode == 0 and "job-best-effort-linear-split" in shown.stdout

    storage = {
        d: tmp_path / ".kgitops" / "storage" / d / "data" / "job-best-effort-linear" for d in ("alice", "bob")
    }
    assert ids(storage["alice"] / "psi-output.csv") == ids(storage["bob"] / "psi-output.csv")
    assert set(ids(storage["alice"] / "psi-output.csv")) == example_ids["common"]
    for name, size in (("train-dataset.csv", 1125), ("test-dataset.csv", 375)):  # 0.75 / 0.25 of 1,500
        assert ids(storage["alice"] / name) == ids(storage["bob"] / name)
        assert len(ids(storage["alice"] / name)) == size
    assert not list((tmp_path / "examples").rglob("*-dataset.csv"))  # nothing written into the source tree

    live = job_status(tmp_path, "job-best-effort-linear")
    assert live["phase"] == "Succeeded"
    assert live["tasks"] == {
        "job-best-effort-linear-psi": "Succeeded",
        "job-best-effort-linear-split": "Succeeded",
    }


def failing_psi1(ex: Path, job: str) -> None:
    """Make job-psi1 fail at both parties at once: a protocol the example app does not implement."""
    path = ex / "jobs" / f"{job}.yaml"
    doc = yaml.safe_load(path.read_text())
    task = next(t for t in doc["spec"]["tasks"] if t["alias"] == "job-psi1")
    config = json.loads(task["taskInputConfig"])
    node = config["sf_node_eval_param"]
    node["attrs"][node["attr_paths"].index("protocol")] = {"s": "KKRT_PSI_2PC"}
    task["taskInputConfig"] = json.dumps(config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_dual_psi_with_psi1_failing_shows_best_effort_and_strict(tmp_path: Path) -> None:
    ex = copy_examples(tmp_path, ["job-best-effort-dual-psi", "job-strict-dual-psi"], small=True)
    failing_psi1(ex, "job-best-effort-dual-psi")
    failing_psi1(ex, "job-strict-dual-psi")
    result = sync_wait(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "job job-best-effort-dual-psi ended Failed" in result.stderr
    assert "job job-strict-dual-psi ended Failed" in result.stderr

    pods = tmp_path / ".kgitops" / "pods"
    # Both parties fail on the protocol; the first failure ends the strict job and the engine stops the other
    # party's process, which may not have written its log yet. One of the two logs names the cause.
    psi1_logs = [
        (pods / "job-strict-dual-psi-psi1" / party / "logs" / "secretflow.log")
        for party in ("alice-0", "bob-0")
    ]
    texts = [log.read_text() if log.exists() else "" for log in psi1_logs]
    assert any("protocol 'KKRT_PSI_2PC' is not implemented by this example app" in t for t in texts), texts

    # BestEffort: psi2 does not depend on psi1 and still runs; split depends on psi1 and never starts.
    best = job_status(tmp_path, "job-best-effort-dual-psi")
    assert best["phase"] == "Failed"
    assert best["tasks"]["job-best-effort-dual-psi-psi1"] == "Failed"
    assert best["tasks"]["job-best-effort-dual-psi-psi2"] == "Succeeded"
    assert (tmp_path / ".kgitops/storage/bob/data/job-best-effort-dual-psi/psi-output2.csv").is_file()
    assert not (pods / "job-best-effort-dual-psi-split").exists()

    # Strict: the first critical failure stops the job; neither psi2 nor split ever starts.
    strict = job_status(tmp_path, "job-strict-dual-psi")
    assert strict["phase"] == "Failed"
    assert strict["tasks"]["job-strict-dual-psi-psi1"] == "Failed"
    assert strict["tasks"].get("job-strict-dual-psi-psi2") in (None, "Blocked")
    assert not (pods / "job-strict-dual-psi-psi2").exists()
    assert not (pods / "job-strict-dual-psi-split").exists()


def test_all_example_jobs_at_once_keep_their_outputs_apart(tmp_path: Path) -> None:
    jobs = [p.stem for p in sorted(JOBS.glob("job-*.yaml"))]
    copy_examples(tmp_path, jobs, small=True)
    result = sync_wait(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for job in jobs:
        for domain in ("alice", "bob"):
            out = tmp_path / ".kgitops" / "storage" / domain / "data" / job
            assert len(ids(out / "psi-output.csv")) == 30
            # this job's split read this job's PSI output, not another job's
            record = json.loads((out / ".domaindata" / "psi-output.json").read_text())
            assert record["author"] == (f"{job}-psi1" if "dual" in job else f"{job}-psi")
            log = tmp_path / ".kgitops" / "pods" / f"{job}-split" / f"{domain}-0" / "logs" / "secretflow.log"
            assert f"rows of psi-output ({job}/psi-output.csv)" in log.read_text()


def test_a_recreated_job_that_fails_does_not_present_the_earlier_outputs(tmp_path: Path) -> None:
    """The quickstart job succeeds; its PSI is then made to fail and the job recreated (`sync --recreate`):
    the failed re-run's folder is empty, not the first run's outputs under the same name."""
    ex = copy_examples(tmp_path, ["job-best-effort-linear"], small=True)
    first = sync_wait(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = {d: tmp_path / ".kgitops/storage" / d / "data/job-best-effort-linear" for d in ("alice", "bob")}
    assert all((outputs[d] / "psi-output.csv").is_file() for d in outputs)
    path = ex / "jobs" / "job-best-effort-linear.yaml"
    doc = yaml.safe_load(path.read_text())
    task = next(t for t in doc["spec"]["tasks"] if t["alias"] == "job-psi")
    config = json.loads(task["taskInputConfig"])
    node = config["sf_node_eval_param"]
    node["attrs"][node["attr_paths"].index("protocol")] = {"s": "KKRT_PSI_2PC"}
    task["taskInputConfig"] = json.dumps(config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    again = kgitops(
        tmp_path,
        *("sync", "examples", "--config", "examples/kgitops.yaml", "--wait", "--timeout", "200"),
        *("--recreate", "job-best-effort-linear"),
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert job_status(tmp_path, "job-best-effort-linear")["phase"] == "Failed"
    for d, folder in outputs.items():
        assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [], d
        kept = list((folder.parent / ".previous").glob("job-best-effort-linear-*/psi-output.csv"))
        assert len(kept) == 1, d  # the first run's outputs are kept aside, not lost
