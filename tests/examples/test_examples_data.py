"""The example parties' tables are what their generator makes, with the documented overlap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from examples_runtime import EXAMPLES, read_csv


def test_generator_reproduces_the_checked_in_tables(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(EXAMPLES / "data" / "generate.py"), str(tmp_path)], check=True, timeout=60
    )
    for name in ("alice.csv", "bob.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / "data" / name).read_bytes(), name


def test_tables_have_ids_features_and_a_known_overlap(example_ids: dict[str, set[str]]) -> None:
    alice_header, alice = read_csv(EXAMPLES / "data" / "alice.csv")
    bob_header, bob = read_csv(EXAMPLES / "data" / "bob.csv")
    assert alice_header[0] == "id1" and bob_header[0] == "id2"  # the key columns the seed jobs name
    assert len(alice) == len(bob) == 2000
    assert (
        len(example_ids["alice"]) == len(example_ids["bob"]) == 2000
    )  # ids are unique (precheck_input: true)
    assert len(example_ids["common"]) == 1500
    assert [r[0] for r in alice] != sorted(r[0] for r in alice)
