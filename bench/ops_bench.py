"""Job operation benchmarks (run by hand: ``python bench/ops_bench.py [--jobs N]``; prints its figures).

With N jobs (default 2,000, each of 8 tasks, a quarter of them Failed with a Blocked subtree) in a real
embedded-engine store:
1. ``Client.list_job`` of the first page of 50, of a filtered page, and of the last page (walking markers);
2. ``Client.show_job`` of one job (its 8 KusciaTasks read one by one);
3. ``kgitops job list`` in a fresh process (import + open + page + table), the latency a user sees.
Targets: a page in <= 0.5 s at 2,000 jobs; ``job show`` <= 20 ms; the CLI <= 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.backends.local import LocalBackend  # noqa: E402
from reconciler.model import Resource  # noqa: E402
from reconciler.sdk import Client  # noqa: E402


def _populate(backend: LocalBackend, jobs: int) -> None:
    for i in range(jobs):
        name = f"job-{i:05d}"
        tasks = [
            {"alias": f"t{k}", "taskID": f"{name}-t{k}", "appImage": "app", "taskInputConfig": "{}",
             "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
             **({"dependencies": [f"t{k - 1}"]} if k else {})}
            for k in range(8)
        ]  # fmt: skip
        failed = i % 4 == 0
        job = backend.store.create(
            Resource(
                kind="KusciaJob",
                name=name,
                labels={"team": "risk" if i % 2 else "fraud"},
                spec={"initiator": "alice", "tasks": tasks},
            )
        )
        status = {}
        for k in range(3):
            phase = "Failed" if failed and k == 2 else "Succeeded"
            status[f"{name}-t{k}"] = phase
            annotations = {"kuscia.secretflow/job-id": name, "kuscia.secretflow/task-alias": f"t{k}"}
            backend.store.create(
                Resource(
                    kind="KusciaTask", name=f"{name}-t{k}", status={"phase": phase}, annotations=annotations
                ),
                owner=job.uid,
            )
        job.status = {"phase": "Failed" if failed else "Running", "taskStatus": status,
                      "startTime": "2026-01-01T00:00:00Z"}  # fmt: skip
        backend.store.put(job)


def _timed(label: str, func, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<52} {best * 1000:9.1f} ms")
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        backend = LocalBackend(state, autostart=False)
        t0 = time.perf_counter()
        _populate(backend, args.jobs)
        print(f"populated {args.jobs} jobs x 8 tasks in {time.perf_counter() - t0:.1f} s")
        client = Client(backend)

        def walk() -> None:
            page = client.list_job(max_keys=50)
            while page.next_marker:
                page = client.list_job(max_keys=50, marker=page.next_marker)

        _timed("list_job: first page of 50", lambda: client.list_job(max_keys=50))
        _timed(
            "list_job: status=Failed, label team=risk",
            lambda: client.list_job(status="Failed", labels={"team": "risk"}),
        )
        _timed(f"list_job: walk all {args.jobs // 50} pages", walk, repeat=1)
        _timed("show_job: one job with 8 tasks", lambda: client.show_job("job-00004"), repeat=20)
        backend.close()
        env = {**os.environ, "NO_COLOR": "1"}
        cmd = [sys.executable, "-m", "reconciler", "job", "list", "--state-dir", str(state)]
        _timed("kgitops job list (fresh process)",
               lambda: subprocess.run(cmd, check=True, capture_output=True, env=env), repeat=3)  # fmt: skip


if __name__ == "__main__":
    main()
