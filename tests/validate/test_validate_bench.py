"""The benchmark script runs end to end on a small input (its figures are read by people, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_runs_and_reports_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "validate_bench.py"),
            "-n",
            "8",
            "--workers",
            "2",
            "--jsonschema-sample",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "kgitops validate " in done.stdout and "ms CPU/manifest" in done.stdout
