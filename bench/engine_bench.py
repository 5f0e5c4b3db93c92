"""Engine benchmarks (run by hand: ``python bench/engine_bench.py``).

1. Scheduling: 1,000 jobs, each a random DAG of 128 tasks, scheduled to completion with the pure
   ``schedule()`` (every started task succeeds at the next round). Reports calls/s, task decisions/s
   (tasks classified per call, summed) and tasks started/s. Target: >= 50,000 task decisions/s.
2. Overhead: a chain of no-op tasks (AppImage command ``true``) through the real engine with the process
   runtime, against starting ``true`` bare with subprocess. Reports the engine's own cost per task.
   Target: <= 50 ms per task.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.engine.scheduler import schedule  # noqa: E402
from reconciler.model import JobPhase, JobSpec, Resource, TaskPhase  # noqa: E402


def random_dag(rng: random.Random, n: int) -> JobSpec:
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        deps = sorted({f"t{rng.randrange(i)}" for _ in range(rng.randint(0, 3))}) if i else []
        tasks.append(
            {
                "alias": f"t{i}",
                "taskID": f"t{i}",
                "appImage": "x",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "alice"}],
                "priority": rng.randint(0, 3),
                **({"dependencies": deps} if deps else {}),
            }
        )
    rng.shuffle(tasks)
    return JobSpec.from_dict(
        {
            "initiator": "alice",
            "maxParallelism": rng.randint(1, 128),
            "scheduleMode": "Strict",
            "tasks": tasks,
        }
    )


def bench_scheduler(jobs: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    specs = [random_dag(rng, size) for _ in range(jobs)]
    calls = decisions = started = 0
    t0 = time.perf_counter()
    for spec in specs:
        phases: dict[str, TaskPhase] = {}
        while True:
            d = schedule(spec, phases)
            calls += 1
            decisions += len(spec.tasks)
            if d.phase is not JobPhase.RUNNING:
                break
            for a, p in list(phases.items()):
                if p is TaskPhase.RUNNING:
                    phases[a] = TaskPhase.SUCCEEDED
            for a in d.start:
                phases[a] = TaskPhase.RUNNING
                started += 1
    elapsed = time.perf_counter() - t0
    print(f"scheduler: {jobs} jobs x {size} tasks, {calls} schedule() calls in {elapsed:.2f}s")
    print(
        f"  {calls / elapsed:,.0f} calls/s, {decisions / elapsed:,.0f} task decisions/s (target >= 50,000), "
        f"{started / elapsed:,.0f} tasks started/s"
    )


def bench_overhead(tasks: int) -> None:
    from reconciler.backends.local import LocalBackend

    t0 = time.perf_counter()
    for _ in range(tasks):
        subprocess.Popen(["true"]).wait()
    bare = (time.perf_counter() - t0) / tasks
    with tempfile.TemporaryDirectory() as td:
        b = LocalBackend(Path(td) / "state", trusted_appimages=["noop"], autostart=False)
        b.create(
            Resource.from_manifest(
                {
                    "kind": "AppImage",
                    "metadata": {"name": "noop"},
                    "spec": {
                        "image": {"name": "noop"},
                        "deployTemplates": [
                            {"name": "main", "spec": {"containers": [{"name": "main", "command": ["true"]}]}}
                        ],
                    },
                }
            )
        )
        chain = [
            {
                "alias": f"t{i}",
                "taskID": f"noop-t{i}",
                "appImage": "noop",
                "taskInputConfig": "{}",
                "parties": [{"domainID": "alice"}],
                **({"dependencies": [f"t{i - 1}"]} if i else {}),
            }
            for i in range(tasks)
        ]
        b.create(
            Resource.from_manifest(
                {
                    "kind": "KusciaJob",
                    "metadata": {"name": "noop"},
                    "spec": {"initiator": "alice", "tasks": chain},
                }
            )
        )
        t0 = time.perf_counter()
        job = b.wait_for_job("noop", timeout=600)
        engine = (time.perf_counter() - t0) / tasks
        assert job.status["phase"] == "Succeeded", job.status
        b.close()
    print(
        f"overhead: {tasks} chained no-op tasks; bare process start {bare * 1000:.1f} ms, "
        f"through the engine {engine * 1000:.1f} ms per task"
    )
    print(f"  engine overhead {(engine - bare) * 1000:.1f} ms per task (target <= 50 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--tasks", type=int, default=100, help="chain length for the overhead benchmark")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    bench_scheduler(args.jobs, args.size, args.seed)
    bench_overhead(args.tasks)


if __name__ == "__main__":
    main()
