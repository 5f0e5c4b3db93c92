"""The long fuzzing run (by hand; prints its figures): mutated real manifests through load and
validate.

Each input is a real manifest of examples/ mutated at the byte or the structure level
(tests/fuzz/fuzz_inputs.py, the same strategies the quick profile in the test suite uses). A traceback is
any exception escaping ``validate_file``; the run goes on after one and prints the first of each kind with
its input.

    python bench/fuzz.py [-n 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

from fuzz_inputs import manifests  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from reconciler.validate import validate_file  # noqa: E402
from reconciler.validate.findings import RULES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    first: dict[str, tuple[bytes, str]] = {}
    rules: collections.Counter[str] = collections.Counter()

    @seed(args.seed)
    @settings(max_examples=args.n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(manifests)
    def run(data: bytes) -> None:
        counts["inputs"] += 1
        counts["bytes"] += len(data)
        try:
            result = validate_file("jobs/mutant.yaml", data)
        except Exception as exc:  # noqa: BLE001 - counting them is the point
            counts["tracebacks"] += 1
            first.setdefault(type(exc).__name__, (data, traceback.format_exc()))
            return
        for finding in result.findings:
            rules[finding.rule] += 1
            if finding.rule not in RULES:
                counts["unknown rule"] += 1

    started = time.perf_counter()
    run()
    took = time.perf_counter() - started
    print(f"inputs tried: {counts['inputs']:,} ({counts['bytes'] / 1e6:.1f} MB) in {took:.0f} s")
    print(f"tracebacks: {counts['tracebacks']}; findings with an unknown rule: {counts['unknown rule']}")
    print("findings by rule:", ", ".join(f"{r} {n:,}" for r, n in rules.most_common()))
    for name, (data, text) in first.items():
        print(f"\nfirst {name}, on input {data[:200]!r}...\n{text}")
    sys.exit(1 if counts["tracebacks"] else 0)


if __name__ == "__main__":
    main()
