"""Status write-back benchmarks (run by hand; prints its figures and their targets).

With N job records (default 5,000), for the status branch (pygit2, a bare repository) and for status files:

* nothing changed (target ≤ 50 ms), one record changed (≤ 100 ms), every record changed (≤ 2 s);
* each timed three times: by the writer that wrote the previous batch (``watch``, its memory warm), by a new
  writer (a fresh process after a restart, or a CLI ``sync``: nothing in memory, the memo the last writer left
  on disk), and by a new writer without the memo (deleted before the run, outside the timing: everything
  derived from the branch or the files; for comparison, no target).

"Fresh process" is a new writer object in this process: what a new process pays on top — the interpreter,
the imports (``reconciler.status`` loads pygit2 with the branch writer), and ``memo.rendering()``'s one sample
dump — is not counted here; ``python -X importtime`` shows the imports.

Each figure is the minimum and the median of ``--rounds`` runs (wall clock; the median CPU time beside it).
Records are shaped like a job's: two tasks, a second party's approval, times, a 40-hex revision.

    python bench/status_bench.py [--jobs 5000] [--rounds 5] [--only branch|files]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from reconciler.model import ObjectRef
from reconciler.status import StatusBranch, StatusFiles, StatusRecord, SyncState
from reconciler.status.commits import MEMO_FILE
from reconciler.status.files import MEMO_FILE as FILES_MEMO

TARGETS = {"nothing changed": 0.050, "1 changed": 0.100, "all changed": 2.0}


def record(i: int, generation: int, phase: str) -> StatusRecord:
    revision = f"{generation:08x}" + "5e1f" * 8
    live = {
        "phase": phase,
        "startTime": "2026-11-29T12:00:00Z",
        "tasks": {f"job-{i:05d}-psi": "Succeeded", f"job-{i:05d}-split": phase},
        "approvals": [{"domain": "bob", "approveStatus": "JobAccepted"}],
    }
    return StatusRecord(
        ObjectRef("KusciaJob", "cross-domain", f"job-{i:05d}"),
        SyncState.SYNCED,
        revision,
        f"jobs/job-{i:05d}.yaml",
        live=live,
    )


class Batches:
    """Successive batches of records: the same again, one record changed, every record changed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.generation = 0
        self.current = [record(i, 0, "Running") for i in range(n)]
        self.flip = 0

    def same(self) -> list[StatusRecord]:
        return list(self.current)

    def one_changed(self) -> list[StatusRecord]:
        self.flip += 1
        i = self.flip % self.n
        phase = "Succeeded" if self.current[i].phase == "Running" else "Running"
        self.current[i] = record(i, self.generation, phase)
        return list(self.current)

    def all_changed(self) -> list[StatusRecord]:
        self.generation += 1
        self.current = [record(i, self.generation, r.phase) for i, r in enumerate(self.current)]
        return list(self.current)


def timed(rounds: int, prepare: Callable[[], list[StatusRecord]], run: Callable[[list[StatusRecord]], object]
          ) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each round."""
    wall, cpu = [], []
    for _ in range(rounds):
        batch = prepare()  # building the records is the sync's work, not the writer's
        t, c = time.perf_counter(), time.process_time()
        run(batch)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def report(target: str, label: str, times: tuple[list[float], list[float]], judged: bool = True) -> None:
    limit = TARGETS[target]
    wall, cpu = times
    best, median = min(wall), statistics.median(wall)
    verdict = ("ok" if median <= limit else "OVER") if judged else "(comparison)"
    print(f"  {label:<30} {best * 1000:8.1f} ms min {median * 1000:8.1f} ms median"
          f" (CPU {statistics.median(cpu) * 1000:8.1f} ms)   target ≤ {limit * 1000:,.0f} ms  {verdict}")


def scenarios(name: str, rounds: int, batches: Batches, warm: Callable[[list[StatusRecord]], object],
              fresh: Callable[[list[StatusRecord]], object], memo: Path) -> None:
    print(f"{name}, {batches.n:,} records (memo: {memo.name}):")

    def without_memo(prepare: Callable[[], list[StatusRecord]]) -> Callable[[], list[StatusRecord]]:
        def run() -> list[StatusRecord]:
            memo.unlink(missing_ok=True)
            return prepare()
        return run

    for target, prepare in (
        ("nothing changed", batches.same),
        ("1 changed", batches.one_changed),
        ("all changed", batches.all_changed),
    ):
        report(target, f"{target} (watch)", timed(rounds, prepare, warm))
        report(target, f"{target} (fresh process)", timed(rounds, prepare, fresh))
        cold = timed(rounds, without_memo(prepare), fresh)
        report(target, f"{target} (fresh, no memo)", cold, judged=False)


def bench_branch(tmp: Path, n: int, rounds: int) -> None:
    path = str(tmp / "repo.git")
    pygit2.init_repository(path, bare=True)
    batches = Batches(n)
    branch = StatusBranch(pygit2.Repository(path))
    t = time.perf_counter()
    assert branch.commit(batches.same()) is not None
    print(f"(first commit of {n:,} records: {time.perf_counter() - t:.2f} s)")

    def fresh(records: list[StatusRecord]) -> object:
        return StatusBranch(pygit2.Repository(path)).commit(records)

    scenarios("status branch", rounds, batches, branch.commit, fresh, Path(path) / MEMO_FILE)


def bench_files(tmp: Path, n: int, rounds: int) -> None:
    root = tmp / "status"
    batches = Batches(n)
    files = StatusFiles(root)
    t = time.perf_counter()
    files.write(batches.same())
    print(f"(first write of {n:,} status files: {time.perf_counter() - t:.2f} s)")

    def fresh(records: list[StatusRecord]) -> object:
        return StatusFiles(root).write(records)

    scenarios("status files", rounds, batches, files.write, fresh, root / FILES_MEMO)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=("branch", "files"), help="run only one of the two writers")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kgitops-status-bench-") as tmp:
        if args.only != "files":
            bench_branch(Path(tmp), args.jobs, args.rounds)
        if args.only != "branch":
            bench_files(Path(tmp), args.jobs, args.rounds)


if __name__ == "__main__":
    main()
