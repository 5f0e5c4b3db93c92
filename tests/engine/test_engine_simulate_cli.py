"""``kgitops simulate`` as a user runs it: the what-if view without events, text output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main

JOB = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaJob
metadata:
  name: demo
spec:
  initiator: alice
  maxParallelism: 2
  tasks:
  - {alias: psi, taskID: psi, appImage: app, taskInputConfig: '{}',
     parties: [{domainID: alice}, {domainID: bob}]}
  - {alias: split, taskID: split, appImage: app, taskInputConfig: '{}', dependencies: [psi],
     parties: [{domainID: alice}]}
  - {alias: train, taskID: train, appImage: app, taskInputConfig: '{}', dependencies: [split],
     parties: [{domainID: alice}]}
  - {alias: stats, taskID: stats, appImage: app, taskInputConfig: '{}', tolerable: true, dependencies: [psi],
     parties: [{domainID: alice}]}
"""


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def test_engine_simulate_without_events_all_succeed(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text(JOB)
    code, out = invoke("simulate", str(f), "-o", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["steps"][-1]["phase"] == "Succeeded"
    assert [s["created"] for s in data["steps"] if s["created"]] == [["psi"], ["split", "stats"], ["train"]]
    assert data["never_created"] == []


def test_engine_simulate_fail_shows_blocked_subtree(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text(JOB)
    code, out = invoke("simulate", str(f), "--fail", "split", "-o", "json")
    assert code == 1, out  # the job ends Failed
    data = json.loads(out.split("\nerror:")[0])
    last = data["steps"][-1]
    assert last["phase"] == "Failed"
    assert last["stopped"] == ["stats"]  # Strict: the running sibling is stopped
    assert data["never_created"] == ["train"]
    code, text = invoke("simulate", str(f), "--fail", "split")
    assert code == 1
    assert text.rstrip().endswith("error: job demo ends Failed")
    assert "train=Blocked" in text and "stopped: stats" in text and "never created: train" in text


def test_engine_simulate_given_and_text(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text(JOB)
    code, out = invoke("simulate", str(f), "--given", "psi=Succeeded", "--fail", "stats")
    assert code == 0, out
    assert out.splitlines()[0] == "job demo"
    assert "step 0: start (job Running)" in out
    assert "ready:   split, stats" in out


def test_engine_simulate_bad_input_is_explained(tmp_path: Path) -> None:
    """Usage errors and unreadable files exit 2 (as in validate); the job's own problems exit 1."""
    f = tmp_path / "job.yaml"
    f.write_text(JOB)
    code, out = invoke("simulate", str(f), "--given", "nope=Succeeded")
    assert code == 2 and "no task with alias 'nope'" in out
    code, out = invoke("simulate", str(f), "--given", "psi=Done")
    assert code == 2 and "Pending, Running, Succeeded, Failed" in out
    ev = tmp_path / "ev.yaml"
    ev.write_text("- {task: psi, phase: Exploded}\n")
    code, out = invoke("simulate", str(f), "--events", str(ev))
    assert code == 2 and "event 1" in out and str(ev) in out
    ev.write_text("- {stage: Stop\n")
    code, out = invoke("simulate", str(f), "--events", str(ev))
    assert code == 2 and "not valid YAML" in out
    two = tmp_path / "two.yaml"
    two.write_text(JOB + "---\n" + JOB.replace("name: demo", "name: other").replace("taskID: ", "taskID: o-"))
    code, out = invoke("simulate", str(two))
    assert code == 2 and "--job" in out and "demo, other" in out
    code, out = invoke("simulate", str(two), "--job", "other", "-o", "json")
    assert code == 0 and json.loads(out)["job"] == "other"
    code, out = invoke("simulate", str(two), "--job", "nope")
    assert code == 2 and "no KusciaJob named 'nope'" in out
    code, out = invoke("simulate", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read" in out
    assert "Traceback" not in out


def test_engine_simulate_stage_that_does_not_apply_changes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text(JOB)
    ev = tmp_path / "ev.yaml"
    ev.write_text("- {stage: Restart}\n- {stage: Suspend}\n- {stage: Suspend}\n- {stage: Restart}\n")
    code, out = invoke("simulate", str(f), "--events", str(ev), "-o", "json")
    assert code == 0, out
    steps = json.loads(out)["steps"]
    assert [s["phase"] for s in steps] == ["Running", "Running", "Suspended", "Suspended", "Running"]
    assert steps[1]["created"] == [] and steps[1]["stopped"] == []
    assert steps[2]["stopped"] == ["psi"]
    assert steps[4]["created"] == ["psi"]  # restarted: the failed psi is created again


def test_engine_simulate_generates_missing_task_ids(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text(JOB.replace("taskID: psi, ", "").replace("taskID: split, ", ""))
    code, out = invoke("simulate", str(f), "-o", "json")
    assert code == 0, out
    assert json.loads(out)["steps"][-1]["phase"] == "Succeeded"


def test_engine_simulate_validates_first_cycles_and_names(tmp_path: Path) -> None:
    """An invalid job is never simulated: validate's findings, with file:line:col, and exit 1."""
    f = tmp_path / "job.yaml"
    cyclic = JOB.replace("{alias: psi, taskID: psi,", "{alias: psi, taskID: psi, dependencies: [train],")
    f.write_text(cyclic)
    code, out = invoke("simulate", str(f))
    assert code == 1, out
    assert f"{f}:9:45: error KJ005 dependencies form a cycle" in out
    assert "nothing was simulated" in out and "step 0" not in out

    f.write_text(JOB.replace("name: demo", "name: ../demo"))
    code, out = invoke("simulate", str(f))
    assert code == 1 and f"{f}:4:9: error META001 metadata.name '../demo'" in out, out

    f.write_text(JOB.replace("maxParallelism: 2", "maxParallelism: 129"))
    code, out = invoke("simulate", str(f), "-o", "json")
    assert code == 1
    findings = json.loads(out.split("\nerror:")[0])["findings"]
    assert [(x["rule"], x["line"]) for x in findings if x["severity"] == "error"] == [("SCHEMA004", 7)]

    f.write_text(JOB.replace("initiator: alice", "initiator: [alice"))
    code, out = invoke("simulate", str(f))
    assert code == 1 and f"{f}:" in out and "YAML001" in out, out
    assert "Traceback" not in out


def test_engine_simulate_checks_the_picked_job_and_the_file(tmp_path: Path) -> None:
    """Another job's own problems do not stop a simulation; a taskID both jobs claim stops either of them
    (XF002 names the later claim and involves the first: one of the two would fail), as validate says."""
    f = tmp_path / "two.yaml"
    other = JOB.replace("name: demo", "name: other").replace("maxParallelism: 2", "maxParallelism: 0")
    f.write_text(JOB + "---\n" + other)
    code, out = invoke("simulate", str(f), "--job", "other")
    assert code == 1 and "SCHEMA004" in out and "XF002 KusciaTask name 'psi'" in out
    code, out = invoke("simulate", str(f), "--job", "demo")
    assert code == 1 and "XF002 KusciaTask name 'psi'" in out and "nothing was simulated" in out
    own_ids = other
    for task in ("psi", "split", "train", "stats"):
        own_ids = own_ids.replace(f"taskID: {task},", f"taskID: other-{task},")
    f.write_text(JOB + "---\n" + own_ids)
    code, out = invoke("simulate", str(f), "--job", "demo", "-o", "json")
    assert code == 0 and json.loads(out)["job"] == "demo"


def test_engine_simulate_library_refuses_an_invalid_job() -> None:
    import yaml

    from reconciler.engine.simulate import InvalidJob, simulate

    doc = yaml.safe_load(
        JOB.replace("{alias: psi, taskID: psi,", "{alias: psi, taskID: psi, dependencies: [train],")
    )
    with pytest.raises(InvalidJob, match="KJ005"):
        simulate(doc)
