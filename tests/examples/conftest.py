"""Fixtures for the example apps' tests; the runtime stand-in itself is in examples_runtime.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples_runtime import EXAMPLES, Runtime, read_csv, write_workspace


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path / "state")


@pytest.fixture(scope="session")
def example_ids() -> dict[str, set[str]]:
    """The ids of each example party's table, and their intersection, computed in the clear."""
    _, alice = read_csv(EXAMPLES / "data" / "alice.csv")
    _, bob = read_csv(EXAMPLES / "data" / "bob.csv")
    a = {r[0] for r in alice}
    b = {r[0] for r in bob}
    return {"alice": a, "bob": b, "common": a & b}


@pytest.fixture
def small_workspace(tmp_path: Path) -> Path:
    """40 common ids, 20 of alice's own and 25 of bob's own, in no particular order."""
    common = [f"common-{i:06d}" for i in range(40)]
    alice = [f"alice-only-{i:06d}" for i in range(20)] + common
    bob = common[::-1] + [f"bob-only-{i:06d}" for i in range(25)]
    return write_workspace(tmp_path / "workspace", alice, bob)
