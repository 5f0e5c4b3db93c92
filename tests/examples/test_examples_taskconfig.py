"""Reading the rendered task config like SecretFlow's Kuscia entry, and the entry's one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from examples_runtime import APPS, task_input_config
from taskconfig import TaskError, decode_attr, parse_task_config

CLUSTER = {
    "parties": [
        {"name": "alice", "role": "", "services": [{"portName": "spu", "endpoints": ["127.0.0.1:40001"]}]},
        {"name": "bob", "role": "", "services": [{"portName": "spu", "endpoints": ["127.0.0.1:40002"]}]},
    ],
    "selfPartyIdx": 1,
    "selfEndpointIdx": 0,
}
PORTS = {"ports": [{"name": "spu", "port": 40002, "scope": "Cluster", "protocol": "GRPC"}]}


def rendered(config: str) -> dict[str, str]:
    return {
        "task_id": "t",
        "task_input_config": config,
        "task_cluster_def": json.dumps(CLUSTER),
        "allocated_ports": json.dumps(PORTS),
    }


def test_seed_config_reads_as_secretflow_would() -> None:
    cfg = parse_task_config(rendered(task_input_config("job-best-effort-linear", "job-psi")))
    assert cfg.component == "psi" and cfg.me.name == "bob" and cfg.ports == {"spu": 40002}
    assert cfg.attrs == {
        "input/receiver_input/key": ["id1"],
        "input/sender_input/key": ["id2"],
        "protocol": "ECDH_PSI_2PC",
        "precheck_input": True,
        "bucket_size": 1048576,
        "curve_type": "CURVE_FOURQ",
    }
    assert cfg.input_ids == ("alice-table", "bob-table")
    assert cfg.output_uris == ("job-best-effort-linear/psi-output.csv",)
    assert cfg.datasource == {"alice": "default-data-source", "bob": "default-data-source"}
    assert (cfg.link.connect_retry_times, cfg.link.connect_retry_interval_ms) == (60, 1000)
    split = parse_task_config(rendered(task_input_config("job-best-effort-linear", "job-split")))
    assert split.attrs == {"train_size": 0.75, "test_size": 0.25, "random_state": 1234, "shuffle": True}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"s": "x"}, "x"),
        ({"i64": "7"}, 7),
        ({"i64": 7}, 7),
        ({"is_na": False, "ss": ["a"]}, ["a"]),
        ({"is_na": True}, None),
        ({"f": 0.5}, 0.5),
        ({"b": False}, False),
    ],
)
def test_attr_values(value: dict, expected: object) -> None:  # type: ignore[type-arg]
    assert decode_attr(value, "p") == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "`task_id` is missing"),
        ({"task_id": "t"}, "`task_input_config` is missing"),
        (
            {"task_id": "t", "task_input_config": "{oops"},
            "`task_input_config` is not valid JSON (line 1 column 2",
        ),
        ({"task_id": "t", "task_input_config": "{}"}, "`sf_node_eval_param.name` is missing"),
        (
            {
                "task_id": "t",
                "task_input_config": json.dumps({"sf_node_eval_param": {"name": "psi", "attr_paths": ["a"]}}),
            },
            "`attr_paths` and `attrs` must be lists of the same length",
        ),
    ],
)
def test_bad_task_configs_name_the_field(doc: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TaskError, match=None) as err:
        parse_task_config(doc)
    assert message in str(err.value)


def run_entry(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "task-config.conf"
    conf.write_text(text)
    return subprocess.run(
        [sys.executable, str(APPS / "entry.py"), str(conf)], capture_output=True, text=True, timeout=30
    )


def test_entry_reports_a_broken_config_in_one_line(tmp_path: Path) -> None:
    result = run_entry(tmp_path, '{"task_id": "t",\n "task_input_config": }')
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: {tmp_path / 'task-config.conf'}:2:23: the task config is not valid JSON"
    )
    assert "Traceback" not in result.stderr


def test_entry_names_the_components_it_has(tmp_path: Path) -> None:
    config = json.loads(task_input_config("job-best-effort-linear", "job-psi"))
    config["sf_node_eval_param"]["name"] = "ss_sgd_train"
    result = run_entry(tmp_path, json.dumps(rendered(json.dumps(config))))
    assert result.returncode == 1
    assert (
        "sf_node_eval_param.name 'ss_sgd_train' is not a component of this app; it has psi, train_test_split"
        in (result.stderr)
    )
