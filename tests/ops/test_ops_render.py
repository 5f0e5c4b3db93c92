"""Tables, times and DAG pictures: pure rendering, each format parsed back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciler.model import Resource
from reconciler.render.graph import graph_from_job, graph_from_spec, render, to_ascii, to_dot, to_mermaid
from reconciler.render.table import (
    JOB_FIELDS,
    FieldError,
    format_age,
    format_local,
    job_table,
    parse_fields,
    render_table,
)
from reconciler.views import job_info

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_table(text: str) -> list[dict[str, str]]:
    """Columns by the header's offsets: what a user's eye (or awk) does with an aligned table."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)*", header)]
    names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _job() -> Resource:
    tasks = [
        {"alias": "psi", "taskID": "j-psi", "parties": [{"domainID": "alice"}]},
        {"alias": "split", "taskID": "j-split", "dependencies": ["psi"], "parties": [{"domainID": "alice"}]},
        {"alias": "train", "taskID": "j-train", "dependencies": ["psi"], "parties": [{"domainID": "alice"}]},
        {
            "alias": 'report "final"',
            "taskID": "j-report",
            "dependencies": ["split", "train"],
            "parties": [{"domainID": "alice"}],
            "tolerable": True,
        },
    ]
    return Resource(
        kind="KusciaJob",
        name="j",
        spec={"initiator": "alice", "scheduleMode": "BestEffort", "tasks": tasks},
        status={
            "phase": "Running",
            "taskStatus": {"j-psi": "Succeeded", "j-split": "Failed", "j-train": "Running"},
            "startTime": "2023-07-27T01:55:46Z",
        },
        creation_timestamp="2023-07-27T01:55:40Z",
    )


def test_job_table_aligns_colours_only_the_phase_and_parses_back() -> None:
    info = job_info(_job())
    other = job_info(
        Resource(
            kind="KusciaJob",
            name="a-much-longer-job-name",
            spec={"initiator": "bob"},
            status={"phase": "Failed"},
        )
    )
    fields = ["id", "status", "initiator", "tasks", "startTime"]
    plain = job_table([info, other], fields, colour=False, tz=UTC)
    coloured = job_table([info, other], fields, colour=True, tz=UTC)
    assert "\x1b[34mRunning" in coloured and "\x1b[31mFailed" in coloured
    assert ANSI.sub("", coloured) == plain  # colour never shifts a column
    rows = parse_table(plain)
    assert rows == [
        {
            "JOB ID": "j",
            "STATUS": "Running",
            "INITIATOR": "alice",
            "TASKS": "1/4",
            "START TIME": "2023-07-27 01:55:46",
        },
        {
            "JOB ID": "a-much-longer-job-name",
            "STATUS": "Failed",
            "INITIATOR": "bob",
            "TASKS": "0/0",
            "START TIME": "-",
        },
    ]


def test_times_are_local_to_the_second_and_ages_are_kubectl_style() -> None:
    t = datetime(2023, 7, 27, 1, 55, 46, tzinfo=UTC)
    assert format_local(t, timezone(timedelta(hours=8))) == "2023-07-27 09:55:46"
    assert format_local(None) == ""
    for delta, age in [(7, "7s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (172800, "2d")]:
        assert format_age(t, t + timedelta(seconds=delta)) == age
    assert format_age(t, t - timedelta(seconds=5)) == "0s"  # clock skew never shows negative


def test_fields_are_seed_004_names_case_insensitive_and_unknown_ones_are_listed() -> None:
    assert parse_fields("id,Status,acceptTime") == ["id", "status", "acceptTime"]
    with pytest.raises(FieldError) as err:
        parse_fields("id,queue")
    assert "unknown field `queue`" in str(err.value) and "finishTime" in str(err.value)
    assert {
        "id",
        "name",
        "status",
        "acceptTime",
        "startTime",
        "finishTime",
        "user",
        "message",
        "labels",
        "annotations",
        "priority",
    } <= set(JOB_FIELDS)


def test_empty_cells_show_a_dash_so_columns_stay_parseable() -> None:
    text = render_table(("A", "B", "C"), [["x", "", "z"]])
    assert parse_table(text) == [{"A": "x", "B": "-", "C": "z"}]


def _mermaid_parse(text: str) -> tuple[dict[str, str], set[tuple[str, str]], dict[str, str]]:
    labels = dict(re.findall(r'^\s+(n\d+)\["(.*)"\]$', text, re.M))
    edges = set(re.findall(r"^\s+(n\d+) --> (n\d+)$", text, re.M))
    classes = {}
    for members, cls in re.findall(r"^\s+class ([\w,]+) (\w+)$", text, re.M):
        for m in members.split(","):
            classes[m] = cls
    return labels, edges, classes


def test_mermaid_has_one_node_per_task_edges_in_run_order_and_phase_classes() -> None:
    text = to_mermaid(graph_from_job(job_info(_job())))
    assert text.startswith("flowchart TD\n")
    labels, edges, classes = _mermaid_parse(text)
    by_alias = {v.split("<br/>")[0]: k for k, v in labels.items()}
    assert set(by_alias) == {"psi", "split", "train", "report #quot;final#quot;"}  # quotes escaped
    report = by_alias["report #quot;final#quot;"]
    assert edges == {
        (by_alias["psi"], by_alias["split"]),
        (by_alias["psi"], by_alias["train"]),
        (by_alias["split"], report),
        (by_alias["train"], report),
    }
    assert classes == {
        by_alias["psi"]: "succeeded",
        by_alias["split"]: "failed",
        by_alias["train"]: "running",
        report: "blocked",
    }
    assert "classDef blocked" in text and "tolerable" in labels[report]


def test_mermaid_from_a_spec_has_no_phases() -> None:
    text = to_mermaid(graph_from_spec("j", _job().spec))
    labels, edges, classes = _mermaid_parse(text)
    assert len(labels) == 4 and len(edges) == 4 and classes == {}


def test_dot_quotes_names_and_parses_back() -> None:
    text = to_dot(graph_from_job(job_info(_job())))
    assert text.startswith('digraph "j" {') and text.rstrip().endswith("}")
    edges = set(re.findall(r'^\s+"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)";$', text, re.M))
    assert ("split", 'report \\"final\\"') in edges and ("psi", "train") in edges and len(edges) == 4
    nodes = dict(re.findall(r'^\s+"((?:[^"\\]|\\.)*)" \[label="((?:[^"\\]|\\.)*)"', text, re.M))
    assert nodes["split"] == "split\\nFailed"
    assert 'style="rounded,filled,dashed"' in text  # the Blocked task


def test_ascii_draws_each_task_once_and_refers_back_for_a_second_parent() -> None:
    text = to_ascii(graph_from_job(job_info(_job())))
    assert text.splitlines() == [
        "j",
        "└── ✔ psi  [Succeeded]",
        "    ├── ✘ split  [Failed]",
        '    │   └── ⊘ report "final"  [Blocked]  needs: split, train  (tolerable)',
        "    └── ▶ train  [Running]",
        '        └── report "final"  ↑ see above',
    ]


def test_ascii_survives_cycles_and_empty_jobs() -> None:
    spec = {"tasks": [{"alias": "a", "dependencies": ["b"]}, {"alias": "b", "dependencies": ["a"]}]}
    text = to_ascii(graph_from_spec("c", spec))
    assert "↻ cycle" in text and "a" in text and "b" in text
    assert to_ascii(graph_from_spec("e", {})) == "e: no tasks\n"


def test_render_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="use one of: mermaid, dot, ascii"):
        render(graph_from_spec("e", {}), "png")
