"""The example manifests: the seed documents' text with only the changes running locally needs, all valid."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from entry import COMPONENTS  # examples/apps
from examples_runtime import APPIMAGE, EXAMPLES, JOBS, load_yaml

from reconciler.config import load_config

JOB_FILES = sorted(JOBS.glob("*.yaml"))
SEED_JOBS = [
    "job-best-effort-linear",
    "job-best-effort-linear-tolerable",
    "job-best-effort-dual-psi",
    "job-strict-dual-psi",
]


def tasks_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Job tasks, or the standalone KusciaTask as one task (its name plays the taskID)."""
    if doc["kind"] == "KusciaTask":
        return [{"taskID": doc["metadata"]["name"], "alias": doc["metadata"]["name"], **doc["spec"]}]
    tasks: list[dict[str, Any]] = doc["spec"]["tasks"]
    return tasks


def test_the_seed_workloads_are_all_there() -> None:
    names = {load_yaml(p)["metadata"]["name"] for p in JOB_FILES}
    assert names == {*SEED_JOBS, "secretflow-task-psi"}
    assert {p.stem for p in JOB_FILES} == names


def test_config_trusts_the_example_appimage_and_keeps_state_out_of_the_source() -> None:
    cfg = load_config(EXAMPLES / "kgitops.yaml")
    image = load_yaml(APPIMAGE)["metadata"]["name"]
    assert any(fnmatch.fnmatchcase(image, pattern) for pattern in cfg.engine.trusted_appimages)
    assert set(cfg.engine.auto_approve) >= {"alice", "bob"}
    assert cfg.resolve(cfg.source.path) == EXAMPLES
    assert not cfg.state_dir.resolve().is_relative_to(EXAMPLES)
    assert not cfg.resolve(cfg.status.dir).resolve().is_relative_to(EXAMPLES)


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.stem)
def test_every_task_runs_the_example_appimage_and_a_component_it_has(path: Path) -> None:
    doc = load_yaml(path)
    image = load_yaml(APPIMAGE)["metadata"]["name"]
    for task in tasks_of(doc):
        refs = [task["appImage"]] if "appImage" in task else [p["appImageRef"] for p in task["parties"]]
        assert set(refs) == {image}
        config = json.loads(task["taskInputConfig"])
        assert config["sf_node_eval_param"]["name"] in COMPONENTS
        # outputs go under a directory named after the job (or the standalone task): no clash between examples
        assert all(uri.startswith(doc["metadata"]["name"] + "/") for uri in config["sf_output_uris"])


def test_task_ids_are_unique_across_all_examples_and_dns_labels() -> None:
    seen: dict[str, str] = {}
    for path in JOB_FILES:
        for task in tasks_of(load_yaml(path)):
            tid = task["taskID"]
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", tid), tid
            assert tid not in seen, f"{tid} in {path.name} and {seen[tid]}"
            seen[tid] = path.name


def seed_blocks(shared: Path) -> dict[str, dict[str, Any]]:
    text = next((shared / "reference" / "seeds").glob("000_*.txt")).read_text(encoding="utf-8")
    docs = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    return {d["metadata"]["name"]: d for d in docs}


def undo_local_changes(doc: dict[str, Any], seed: dict[str, Any]) -> dict[str, Any]:
    """The example job with its two documented changes reverted: taskIDs, the job directory in outputs."""
    prefix = doc["metadata"]["name"] + "/"
    for task, seed_task in zip(doc["spec"]["tasks"], seed["spec"]["tasks"], strict=True):
        assert task["taskID"] == f"{doc['metadata']['name']}-{seed_task['taskID'].removeprefix('job-')}"
        task["taskID"] = seed_task["taskID"]
        config = json.loads(task["taskInputConfig"])
        config["sf_output_uris"] = [u.removeprefix(prefix) for u in config["sf_output_uris"]]
        task["taskInputConfig"] = config
        seed_task["taskInputConfig"] = json.loads(seed_task["taskInputConfig"])
    return doc


@pytest.mark.parametrize("job", SEED_JOBS)
def test_jobs_are_the_seed_text_but_for_task_ids_and_output_directories(shared_dir: Path, job: str) -> None:
    seed = seed_blocks(shared_dir)[job]
    assert undo_local_changes(load_yaml(JOBS / f"{job}.yaml"), seed) == seed


def test_standalone_task_is_seed_002s_but_for_its_output_directory(shared_dir: Path) -> None:
    text = next((shared_dir / "reference" / "seeds").glob("002_*.txt")).read_text(encoding="utf-8")
    seed_config = json.loads(re.search(r"taskInputConfig: '(.*?)'\n", text).group(1))  # type: ignore[union-attr]
    doc = load_yaml(JOBS / "secretflow-task-psi.yaml")
    config = json.loads(doc["spec"]["taskInputConfig"])
    assert config["sf_output_uris"] == ["secretflow-task-psi/psi-output.csv"]
    config["sf_output_uris"] = ["psi-output.csv"]
    assert config == seed_config
    assert doc["spec"]["initiator"] == "alice"
    assert [(p["domainID"], p["appImageRef"]) for p in doc["spec"]["parties"]] == [
        ("alice", "secretflow-image"),
        ("bob", "secretflow-image"),
    ]


def test_appimage_keeps_secretflows_shape(shared_dir: Path) -> None:
    real = load_yaml(shared_dir / "corpus" / "016-appimage-secretflow-image.yaml")["spec"]
    ours = load_yaml(APPIMAGE)["spec"]
    assert ours["configTemplates"] == real["configTemplates"]
    real_c = real["deployTemplates"][0]["spec"]["containers"][0]
    our_c = ours["deployTemplates"][0]["spec"]["containers"][0]
    for key in ("configVolumeMounts", "ports", "workingDir", "name"):
        assert our_c[key] == real_c[key], key


@pytest.mark.skipif(
    importlib.util.find_spec("reconciler.cli.validate") is None, reason="kgitops validate is not there yet"
)
def test_kgitops_validate_accepts_every_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " error " not in result.stdout


def test_every_example_validates_without_findings_beyond_notes() -> None:
    validate = pytest.importorskip("reconciler.validate", reason="the validator is not there yet")
    report = validate.validate_paths(
        [str(EXAMPLES / "appimages"), str(EXAMPLES / "jobs")], validate.Options()
    )
    assert [f for f in report.findings if f.severity.value != "note"] == []
    assert report.exit_code == 0
