"""The example train_test_split app: sizes from the config, the same rows at both parties, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from examples_runtime import Runtime, edit_config, read_csv, task_input_config
from split import plan_split  # examples/apps (put on sys.path by conftest)
from storage import DomainData, Storage
from taskconfig import TaskError

SPLIT = task_input_config("job-best-effort-linear", "job-split")
JOB_DIR = "job-best-effort-linear"


def seed_psi_outputs(runtime: Runtime, n: int) -> list[str]:
    """What the PSI task leaves at each party: its own rows of the same ``n`` ids, sorted, registered."""
    ids = sorted(f"u{i * 7919 % 100003:06d}" for i in range(n))
    for domain, key, feature in (("alice", "id1", "age"), ("bob", "id2", "score")):
        storage = Storage(runtime.storage(domain))
        uri = f"{JOB_DIR}/psi-output.csv"
        storage.write_table(uri, [key, feature], [[uid, str(len(uid) + i)] for i, uid in enumerate(ids)])
        storage.register(DomainData(id="psi-output", relative_uri=uri, columns=(key, feature), keys=(key,)))
    return ids


def outputs(runtime: Runtime, domain: str) -> tuple[list[str], list[str]]:
    train = read_csv(runtime.storage(domain) / JOB_DIR / "train-dataset.csv")[1]
    test = read_csv(runtime.storage(domain) / JOB_DIR / "test-dataset.csv")[1]
    return [r[0] for r in train], [r[0] for r in test]


def test_split_sizes_follow_the_ratios_and_both_parties_get_the_same_rows(runtime: Runtime) -> None:
    ids = seed_psi_outputs(runtime, 1500)
    runs = runtime.run("t-split", SPLIT)
    assert [r.returncode for r in runs.values()] == [0, 0], [r.log for r in runs.values()]
    alice = outputs(runtime, "alice")
    bob = outputs(runtime, "bob")
    assert alice == bob
    train, test = alice
    assert (len(train), len(test)) == (1125, 375)
    assert not set(train) & set(test) and set(train) | set(test) == set(ids)
    assert train != sorted(train)  # shuffle: true
    record = json.loads((runtime.storage("bob") / JOB_DIR / ".domaindata" / "test-dataset.json").read_text())
    assert record["relative_uri"] == f"{JOB_DIR}/test-dataset.csv" and record["keys"] == ["id2"]
    assert "1125 rows to" in runs["alice"].log and "375 rows to" in runs["alice"].log


def test_split_is_deterministic_by_random_state(runtime: Runtime) -> None:
    seed_psi_outputs(runtime, 200)
    runtime.run("t-split-1", SPLIT)
    first = outputs(runtime, "alice")
    runtime.run("t-split-2", SPLIT)
    assert outputs(runtime, "alice") == first
    runtime.run("t-split-3", edit_config(SPLIT, attrs={"random_state": {"i64": "99"}}))
    assert outputs(runtime, "alice") != first


def test_split_without_shuffle_keeps_id_order(runtime: Runtime) -> None:
    ids = seed_psi_outputs(runtime, 10)
    runs = runtime.run("t-noshuffle", edit_config(SPLIT, attrs={"shuffle": {"b": False}}))
    assert all(r.returncode == 0 for r in runs.values())
    assert outputs(runtime, "bob") == (ids[:7], ids[7:])


def test_split_without_its_input_says_which_table_is_missing(runtime: Runtime) -> None:
    runs = runtime.run("t-noinput", SPLIT)
    for r in runs.values():
        assert r.returncode == 1
        assert f"input 'psi-output' is not registered in {r.domain}'s storage" in r.log
        assert "did the PSI task run?" in r.log and "Traceback" not in r.log


@pytest.mark.parametrize(
    ("n", "train", "test", "sizes"),
    [
        (1500, 0.75, 0.25, (1125, 375)),
        (10, 0.7, 0.3, (7, 3)),
        (7, 0.75, 0.25, (5, 2)),
        (1, 0.75, 0.25, (0, 1)),
        (100, 0.5, 0.2, (50, 20)),
        (0, 0.75, 0.25, (0, 0)),
    ],
)
def test_plan_split_sizes(n: int, train: float, test: float, sizes: tuple[int, int]) -> None:
    for shuffle in (True, False):
        tr, te = plan_split(n, train, test, 1234, shuffle)
        assert (len(tr), len(te)) == sizes
        assert not set(tr) & set(te)


def test_plan_split_refuses_sizes_above_one() -> None:
    with pytest.raises(TaskError, match="more than 1"):
        plan_split(10, 0.8, 0.3, 1, True)


def test_bad_attr_is_reported_by_name(runtime: Runtime) -> None:
    seed_psi_outputs(runtime, 10)
    runs = runtime.run("t-badattr", edit_config(SPLIT, attrs={"train_size": {"f": 1.5}}))
    assert all(r.returncode == 1 for r in runs.values())
    assert "attr `train_size` must be a number between 0 and 1, got 1.5" in runs["alice"].log


def test_outputs_of_different_jobs_never_mix(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    for job in ("job-a", "job-b"):
        storage.write_table(f"{job}/psi-output.csv", ["id"], [[job]])
        storage.register(DomainData(id="psi-output", relative_uri=f"{job}/psi-output.csv"))
    storage.register(DomainData(id="alice-table", relative_uri="alice.csv"))
    for job in ("job-a", "job-b"):
        found = storage.lookup("psi-output", job)
        assert found is not None and found.relative_uri == f"{job}/psi-output.csv"
        table = storage.lookup("alice-table", job)
        assert table is not None and table.relative_uri == "alice.csv"
    assert storage.lookup("psi-output", "") is None
