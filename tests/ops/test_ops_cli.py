"""Every ``kgitops job``/``task``/``graph`` verb at the command line: output formats parsed back, unknown
names, wrong phases, pagination and the GitOps guard. Errors are one line, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from ops_fixtures import add_apps, appimage, drive, job_manifest, put_job
from test_ops_render import parse_table

from reconciler.backends.local import LocalBackend
from reconciler.cli import main
from reconciler.model import Resource


def run(*args: str, ok: bool = True, code: int = 1) -> Result:
    """``ok``: exit 0; else exit ``code`` (1: the operation failed; 2: a bad value, docs/exit-codes.md)."""
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result


@pytest.fixture
def jobs(cli_backend: LocalBackend) -> LocalBackend:
    put_job(cli_backend, "job-a", "Failed", {"psi": "Failed"}, labels={"team": "risk"})
    put_job(
        cli_backend, "job-b", "Running", {"psi": "Succeeded", "split": "Running"}, labels={"team": "fraud"}
    )
    put_job(cli_backend, "job-c", "Succeeded", {"psi": "Succeeded", "split": "Succeeded"})
    return cli_backend


# -- job list --------------------------------------------------------------------------------------


def test_job_list_table_parses_back(jobs: LocalBackend) -> None:
    rows = parse_table(run("job", "list").stdout)
    assert [(r["JOB ID"], r["STATUS"], r["TASKS"]) for r in rows] == [
        ("job-a", "Failed", "0/2"),
        ("job-b", "Running", "1/2"),
        ("job-c", "Succeeded", "2/2"),
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["ACCEPT TIME"])


def test_job_list_wide_adds_parties_mode_and_reason(jobs: LocalBackend) -> None:
    rows = parse_table(run("job", "list", "-o", "wide").stdout)
    assert rows[0]["PARTIES"] == "alice,bob" and rows[0]["MODE"] == "Strict"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_job_list_json_and_yaml_parse_back_with_the_marker(jobs: LocalBackend, fmt: str) -> None:
    out = run("job", "list", "-o", fmt, "--max-keys", "2").stdout
    data: dict[str, Any] = json.loads(out) if fmt == "json" else yaml.safe_load(out)
    assert [j["name"] for j in data["items"]] == ["job-a", "job-b"]
    assert data["items"][0]["tasks"][1]["phase"] == "Blocked"
    rest = run("job", "list", "-o", fmt, "--marker", data["nextMarker"]).stdout
    data2 = json.loads(rest) if fmt == "json" else yaml.safe_load(rest)
    assert [j["name"] for j in data2["items"]] == ["job-c"] and data2["nextMarker"] is None


def test_job_list_prints_the_next_marker_and_it_works(jobs: LocalBackend) -> None:
    out = run("job", "list", "-m", "1").stdout
    marker = re.search(r"More jobs: --marker (\S+)", out)
    assert marker and [r["JOB ID"] for r in parse_table(out.split("\n\n")[0])] == ["job-a"]
    out2 = run("job", "list", "-m", "1", "--marker", marker.group(1)).stdout
    assert parse_table(out2.split("\n\n")[0])[0]["JOB ID"] == "job-b"


def test_job_list_filters_and_fields(jobs: LocalBackend) -> None:
    out = run(
        "job", "list", "-s", "failed", "-s", "Running", "--fields", "id,status,labels", "-o", "json"
    ).stdout
    assert json.loads(out)["items"] == [
        {"id": "job-a", "status": "Failed", "labels": {"team": "risk"}},
        {"id": "job-b", "status": "Running", "labels": {"team": "fraud"}},
    ]
    rows = parse_table(run("job", "list", "-l", "team=fraud", "--fields", "name,status").stdout)
    assert rows == [{"NAME": "job-b", "STATUS": "Running"}]
    assert run("job", "list", "--initiator", "carol").stdout == "No jobs found.\n"
    assert "No jobs found." in run("job", "list", "--started-after", "2999-01-01 00:00:00").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "Done"], "unknown job phase `Done`"),
        (["--label", "team"], "`team` is not label KEY=VALUE"),
        (["--fields", "id,queue"], "unknown field `queue`"),
        (["--marker", "nonsense"], "is not one kgitops printed"),
        (["--since", "last week"], "since: `last week` is not a time"),
    ],
)
def test_job_list_bad_flags_say_what_is_wrong(jobs: LocalBackend, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["job", "list", *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_help_fields_lists_the_fields() -> None:
    out = run("job", "list", "--help-fields").stdout
    assert "acceptTime" in out and "finishTime" in out


# -- job show --------------------------------------------------------------------------------------


def test_job_show_lists_every_task_and_why_one_never_ran(jobs: LocalBackend) -> None:
    out = run("job", "show", "job-a").stdout
    assert "Phase:          Failed" in out
    tasks = parse_table(out.split("Tasks:\n")[1])
    assert [(t["ALIAS"], t["PHASE"], t["REASON"]) for t in tasks] == [
        ("psi", "Failed", "-"),
        ("split", "Blocked", "dependency `psi` failed"),
    ]
    parties = parse_table(out.split("Parties:\n")[1].split("Tasks:")[0])
    assert [p["DOMAIN"] for p in parties] == ["alice", "bob"]


def test_job_show_graph_draws_the_dag(jobs: LocalBackend) -> None:
    out = run("job", "show", "job-a", "--graph").stdout
    assert out.split("Graph:\n")[1] == "job-a\n└── ✘ psi  [Failed]\n    └── ⊘ split  [Blocked]\n"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_job_show_data_formats_and_fields(jobs: LocalBackend, fmt: str) -> None:
    load = json.loads if fmt == "json" else yaml.safe_load
    data = load(run("job", "show", "job-b", "-o", fmt).stdout)
    assert data["phase"] == "Running" and [t["phase"] for t in data["tasks"]] == ["Succeeded", "Running"]
    assert load(run("job", "show", "job-b", "-o", fmt, "--fields", "id,status").stdout) == {
        "id": "job-b",
        "status": "Running",
    }
    rows = parse_table(run("job", "show", "job-b", "--fields", "id,status,user").stdout)
    assert rows == [{"JOB ID": "job-b", "STATUS": "Running", "USER": "alice"}]


def test_unknown_job_names_fail_cleanly_for_every_verb(jobs: LocalBackend) -> None:
    for verb in ("show", "delete", "stop", "suspend", "restart", "cancel", "logs"):
        out = run("job", verb, "job-z", ok=False).output
        error = out.splitlines()[-1]  # show (read-only) first says what it reads
        assert error.startswith("error: job `job-z` not found in namespace cross-domain; did you mean"), out
    for verb in ("approve", "reject"):
        assert "job `job-z` not found" in run("job", verb, "job-z", "--domain", "bob", ok=False).output
    assert "job `job-z` not found" in run("job", "update", "job-z", "-l", "a=b", ok=False).output


# -- create ----------------------------------------------------------------------------------------


def test_job_create_from_a_file(cli_backend: LocalBackend, tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump_all([job_manifest("new-1"), job_manifest("new-2")]))
    assert run("job", "create", "-f", str(path)).stdout == "job new-1 created\njob new-2 created\n"
    out = run("job", "create", "-f", str(path), ok=False).output
    assert "job `new-1` already exists" in out
    data = json.loads(run("job", "list", "-o", "json").stdout)
    assert [j["name"] for j in data["items"]] == ["new-1", "new-2"]


def test_job_create_refuses_an_invalid_file_with_its_position(
    cli_backend: LocalBackend, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: KusciaJob\nmetadata:\n  name: x\nspec: [unclosed\n")
    out = run("job", "create", "-f", str(bad), ok=False).output
    assert f"{bad} is not valid, nothing was created" in out and f"{bad}:" in out
    assert cli_backend.list("KusciaJob") == []
    cyclic = job_manifest("cyc")
    cyclic["spec"]["tasks"][0]["dependencies"] = ["split"]
    (tmp_path / "cyc.yaml").write_text(yaml.safe_dump(cyclic, sort_keys=False))
    out = run("job", "create", "-f", "cyc.yaml", ok=False).output
    assert out.startswith("error: cyc.yaml is not valid, nothing was created:\n  cyc.yaml:")
    assert "cycle" in out and "psi" in out
    assert cli_backend.list("KusciaJob") == []
    other = tmp_path / "appimage.yaml"
    other.write_text(yaml.safe_dump(appimage("ops-ok", "true").to_manifest()))
    assert "creates KusciaJobs only" in run("job", "create", "-f", str(other), ok=False).output
    missing = run("job", "create", "-f", str(tmp_path / "nope.yaml"), ok=False).output
    assert "nope.yaml: cannot read the file (No such file or directory)" in missing


# -- commands --------------------------------------------------------------------------------------


def test_stage_commands_on_a_running_job_and_their_wrong_phases(jobs: LocalBackend) -> None:
    add_apps(jobs)
    jobs.create(Resource.from_manifest(job_manifest("live", app="ops-sleep")))
    drive(jobs, "live", "Running", task_phase=("psi", "Running"))
    assert run("job", "suspend", "live").stdout == "job live: suspend done; phase now Suspended\n"
    out = run("job", "suspend", "live", ok=False).output
    assert out == (
        "error: cannot suspend job `live`: it is Suspended; suspend is allowed only when the job is Running "
        "(it is suspended already; `restart` resumes it)\n"
    )
    assert (
        run("job", "restart", "live", "--reason", "fixed").stdout
        == "job live: restart done; phase now Running\n"
    )
    data = json.loads(run("job", "stop", "live", "-o", "json").stdout)
    assert data["phase"] == "Failed" and data["reason"] == "Party: alice execute the cmd: Stop."
    assert "phase now Cancelled" in run("job", "cancel", "live", "--domain", "bob").stdout
    assert "it is Cancelled" in run("job", "restart", "live", ok=False).output
    assert "it is Succeeded; stop is allowed only when" in run("job", "stop", "job-c", ok=False).output


def test_a_command_nobody_acts_on_yet_says_so(jobs: LocalBackend) -> None:
    out = run("job", "stop", "job-b", "--timeout", "0").stdout
    assert out == "job job-b: stop requested; the job is still Running (the backend acts on it soon)\n"


def test_approve_and_reject(cli_backend: LocalBackend) -> None:
    put_job(cli_backend, "wait", "AwaitingApproval", domains=("alice", "bob", "carol"))
    put_job(cli_backend, "wait2", "AwaitingApproval", domains=("alice", "carol"))
    assert run("job", "approve", "wait", "--domain", "carol").stdout == (
        "job wait: approved by carol; phase now AwaitingApproval\n"
    )
    out = run("job", "reject", "wait2", "--domain", "carol", "--reason", "no").stdout
    assert out == "job wait2: rejected by carol; phase now ApprovalReject\n"
    assert (
        "is not a party of job `wait`" in run("job", "approve", "wait", "--domain", "dave", ok=False).output
    )
    assert "Missing option '--domain'" in CliRunner().invoke(main, ["job", "approve", "wait"]).output
    data = json.loads(run("job", "show", "wait2", "-o", "json").stdout)
    assert {p["domainID"]: p["approval"] for p in data["parties"]} == {"alice": "", "carol": "JobRejected"}


def test_update_labels_annotations_and_priority(jobs: LocalBackend) -> None:
    assert run("job", "update", "job-b", "-l", "team=", "-l", "tier=gold", "-a", "note=a, b = c").stdout == (
        "job job-b updated\n"
    )
    data = json.loads(run("job", "show", "job-b", "-o", "json").stdout)
    assert data["labels"] == {"tier": "gold"} and data["annotations"] == {"note": "a, b = c"}
    assert (
        "cannot change the priority of job `job-b`: it is Running"
        in run("job", "update", "job-b", "-p", "high", ok=False).output
    )
    bad_label = run("job", "update", "job-b", "-l", "tier=a b", ok=False, code=2)
    assert "invalid value for label `tier`" in bad_label.output
    assert "nothing to update" in run("job", "update", "job-b", ok=False, code=2).output
    # PaddleFlow's comma form sets several labels at once
    run("job", "update", "job-b", "-l", "x=1,y=2")
    assert json.loads(run("job", "show", "job-b", "-o", "json").stdout)["labels"] == {
        "tier": "gold",
        "x": "1",
        "y": "2",
    }


def test_gitops_guard_after_a_real_sync(cli_backend: LocalBackend, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    manifest = job_manifest("synced")
    manifest["metadata"]["labels"] = {"team": "risk"}
    (source / "job.yaml").write_text(yaml.safe_dump(manifest))
    assert "1 created" in run("sync", "src").stdout
    out = run("job", "delete", "synced", ok=False).output
    assert out.startswith(f"error: job `synced` is managed by kgitops sync (from job.yaml in dir:{source})")
    assert "if you delete it here, the next sync reports it as out of sync" in out and "--force" in out
    out = run("job", "update", "synced", "-l", "team=fraud", ok=False).output
    assert "if you update it here, the next sync reports team as drift from Git" in out
    assert run("job", "update", "synced", "-a", "note=checked").stdout == "job synced updated\n"
    assert run("job", "delete", "synced", "--force").stdout == "job synced deleted\n"
    assert "out-of-sync" in run("sync", "src", ok=False).stdout  # as the warning said (and sync exits 1)


def test_job_delete(jobs: LocalBackend) -> None:
    assert run("job", "delete", "job-c").stdout == "job job-c deleted\n"
    assert [r["JOB ID"] for r in parse_table(run("job", "list").stdout)] == ["job-a", "job-b"]


def test_job_logs_of_a_real_run(jobs: LocalBackend) -> None:
    add_apps(jobs)
    jobs.create(Resource.from_manifest(job_manifest("logjob")))
    drive(jobs, "logjob", "Succeeded")
    lines = run("job", "logs", "logjob").stdout.splitlines()
    assert len(lines) == 4 and all(" ok from " in line for line in lines)
    assert {line.split("]")[0] for line in lines} == {
        "[psi/alice-0/main",
        "[psi/bob-0/main",
        "[split/alice-0/main",
        "[split/bob-0/main",
    }
    only = run("job", "logs", "logjob", "--task", "split", "--party", "bob", "-f").stdout.splitlines()
    assert len(only) == 1 and only[0].startswith("[split/bob-0/main] ok from ")
    assert "job logjob has no task `nope`" in run("job", "logs", "logjob", "--task", "nope", ok=False).output


# -- task ------------------------------------------------------------------------------------------


def test_task_list_has_the_kubectl_columns_and_parses_back(jobs: LocalBackend) -> None:
    rows = parse_table(run("task", "list").stdout)
    assert list(rows[0]) == ["NAME", "STARTTIME", "COMPLETIONTIME", "LASTRECONCILETIME", "PHASE"]
    assert [(r["NAME"], r["PHASE"]) for r in rows] == [
        ("job-a-psi", "Failed"),
        ("job-b-psi", "Succeeded"),
        ("job-b-split", "Running"),
        ("job-c-psi", "Succeeded"),
        ("job-c-split", "Succeeded"),
    ]
    assert re.fullmatch(r"\d+[smhd]", rows[0]["STARTTIME"])
    wide = parse_table(run("task", "list", "-j", "job-a", "-o", "wide").stdout)
    assert [(r["ALIAS"], r["PHASE"], r["REASON"]) for r in wide] == [
        ("psi", "Failed", "-"),
        ("split", "Blocked", "dependency `psi` failed"),
    ]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_task_list_and_show_data_formats(jobs: LocalBackend, fmt: str) -> None:
    load = json.loads if fmt == "json" else yaml.safe_load
    page = load(run("task", "list", "-s", "succeeded", "-m", "1", "-o", fmt).stdout)
    assert [t["name"] for t in page["items"]] == ["job-b-psi"] and page["nextMarker"]
    page2 = load(run("task", "list", "-s", "succeeded", "--marker", page["nextMarker"], "-o", fmt).stdout)
    assert [t["name"] for t in page2["items"]] == ["job-c-psi", "job-c-split"] and page2["nextMarker"] is None
    task = load(run("task", "show", "job-b-split", "-o", fmt).stdout)
    assert task["phase"] == "Running" and task["job"] == "job-b" and task["dependencies"] == ["psi"]


def test_task_show_and_unknown_task(jobs: LocalBackend) -> None:
    out = run("task", "show", "job-a-psi").stdout
    assert "Phase:          Failed" in out
    parties = parse_table(out.split("Parties:\n")[1])
    assert [(p["DOMAIN"], p["PHASE"]) for p in parties] == [("alice", "Failed"), ("bob", "Failed")]
    assert "task `job-a-pis` not found" in run("task", "show", "job-a-pis", ok=False).output
    assert "No tasks found." in run("task", "list", "-s", "Pending").stdout
    assert "job `nope` not found" in run("task", "list", "-j", "nope", ok=False).output


# -- graph -----------------------------------------------------------------------------------------


def test_graph_of_a_live_job_in_each_format(jobs: LocalBackend) -> None:
    mermaid = run("graph", "job-a", "-o", "mermaid").stdout
    assert mermaid.startswith("flowchart TD\n") and "class n1 blocked" in mermaid
    assert '"job-a-psi" ' not in run("graph", "job-a", "-o", "dot").stdout
    assert '-> "split"' in run("graph", "job-a", "-o", "dot").stdout
    assert "⊘ split  [Blocked]" in run("graph", "job-a").stdout
    fenced = run("graph", "job-a", "-o", "mermaid", "--markdown").stdout
    assert fenced.startswith("```mermaid\nflowchart TD\n") and fenced.endswith("```\n")
    assert "job `job-z` not found" in run("graph", "job-z", ok=False).output


def test_graph_of_a_file_without_a_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job_manifest("filejob")))
    out = run("graph", str(path), "-o", "mermaid").stdout
    assert 'n0["psi"]' in out and "n0 --> n1" in out and "classDef" not in out
    assert not (tmp_path / ".kgitops").exists()  # rendering never creates engine state
    assert "└── split" in run("graph", str(path)).stdout
    assert "has no KusciaJob named `other`" in run("graph", str(path), "--job", "other", ok=False).output


def test_graph_of_a_file_is_coloured_when_the_backend_has_the_job(jobs: LocalBackend, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job_manifest("job-a")))
    out = run("graph", str(path), "-o", "mermaid", "--live").stdout
    assert "class n0 failed" in out and "class n1 blocked" in out


def test_a_terminal_gets_the_phase_coloured_and_still_aligned(
    jobs: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR")
    coloured = CliRunner().invoke(main, ["job", "list"], color=True).stdout
    assert "\x1b[31mFailed" in coloured and "\x1b[32mSucceeded" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == run("job", "list").stdout


def test_a_backend_that_can_not_open_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    out = run("job", "delete", "job-a", "--state-dir", "file/state", ok=False).output
    assert out.startswith("error: cannot open the local backend (") and "Not a directory" in out
    out = run("job", "list", "--state-dir", "file/state", ok=False).output  # read-only: nothing to create
    state = tmp_path / "file" / "state"
    expected = f"error: cannot read the engine state {state}: {state.parent} is not a directory"
    assert out.splitlines()[-1] == expected
