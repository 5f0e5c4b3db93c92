"""Job operation benchmarks (run by hand: ``python bench/ops_bench.py [--jobs N]``; prints its figures).

With N jobs (default 2,000; issue 17 measures ``--jobs 10000``; each of 8 tasks, a quarter of them Failed
with a Blocked subtree) in a real embedded-engine store:
1. ``Client.list_job``: the first page of 50, a page in the middle (after a marker), two filtered pages, and
   a walk through every page;
2. ``Client.show_job`` of one job (its 8 KusciaTasks read one by one), and of a mistyped name (NotFound
   with "did you mean", from the names alone);
3. ``kgitops --help``, ``kgitops job list`` (flags only, and with a ``kgitops.yaml``: read before, so from
   the cache of checked config files, and with no cache at all) and ``kgitops validate one.yaml`` (without
   its result cache) in fresh processes, side by side in rounds: the start-up, and what a page adds to it.
   They run outside the source tree, so they measure the installed package (``pip install .``; the output
   names it, and says when an editable install makes ``job list``'s figures low), its bytecode compiled
   first (``compileall``): with ``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__``, every run would
   compile each module from source.
Targets: a page of 50 <= 30 ms in-process at any N (10,000 included); ``job show`` <= 20 ms; the CLI's
``job list`` <= ``--help`` + 30 ms (aim: + 22 ms, to hold on a loaded machine); ``validate one.yaml``
<= 100 ms. Last, the modules ``job list`` loads beyond ``--help``, the largest first (``-X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.backends.local import LocalBackend  # noqa: E402
from reconciler.model import Resource  # noqa: E402
from reconciler.paging import encode_marker  # noqa: E402
from reconciler.sdk import Client, JobNotFound  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAGE_TARGET_MS = 30.0
SHOW_TARGET_MS = 20.0
CLI_OVER_STARTUP_TARGET_MS = 30.0
CLI_OVER_STARTUP_AIM_MS = 22.0  # the target with a margin, so that it holds on a loaded machine too
VALIDATE_ONE_TARGET_MS = 100.0


def _populate(backend: LocalBackend, jobs: int) -> None:
    with backend.store.transaction():
        _create(backend, jobs)


def _create(backend: LocalBackend, jobs: int) -> None:
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


def _timed(label, func, repeat=5, target_ms=None):  # type: ignore[no-untyped-def]
    """Best of ``repeat`` runs: wall time (against the target), and CPU time beside it (under load, the CPU
    time is what compares between machines)."""
    best = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        func()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    verdict = f"  (CPU {cpu * 1000:.1f} ms"
    if target_ms is not None:
        verdict += f"; target <= {target_ms:.0f} ms: {'ok' if best * 1000 <= target_ms else 'MISSED'}"
    print(f"{label:<60} {best * 1000:9.1f} ms{verdict})")
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
        pages = 0

        def walk() -> None:
            nonlocal pages
            pages = 1
            page = client.list_job(max_keys=50)
            while page.next_marker:
                page = client.list_job(max_keys=50, marker=page.next_marker)
                pages += 1

        middle_marker = encode_marker(f"job-{args.jobs // 2:05d}")  # what a user paging there holds
        _timed("list_job: first page of 50", lambda: client.list_job(max_keys=50), target_ms=PAGE_TARGET_MS)
        _timed(
            "list_job: a page of 50 in the middle (marker)",
            lambda: client.list_job(max_keys=50, marker=middle_marker),
            target_ms=PAGE_TARGET_MS,
        )
        _timed(
            "list_job: status=Failed, label team=risk",
            lambda: client.list_job(status="Failed", labels={"team": "risk"}),
            target_ms=PAGE_TARGET_MS,
        )
        _timed(
            "list_job: --started-after (checked outside SQL)",
            lambda: client.list_job(started_after="2025-12-31T00:00:00Z"),
            target_ms=PAGE_TARGET_MS,
        )
        total = _timed(f"list_job: walk all {-(-args.jobs // 50)} pages", walk, repeat=1)
        print(f"{'  = per page':<60} {total * 1000 / max(pages, 1):9.1f} ms  ({pages} pages)")
        _timed("show_job: one job with 8 tasks", lambda: client.show_job("job-00004"), repeat=20,
               target_ms=SHOW_TARGET_MS)  # fmt: skip

        def missing() -> None:
            try:
                client.show_job("job-0004x")
            except JobNotFound:
                return
            raise AssertionError("job-0004x exists")

        _timed("show_job: a mistyped name (NotFound, did you mean)", missing, repeat=5)
        backend.close()
        _task_pages(Path(tmp) / "tasks", TASKS)
        _cli(state, Path(tmp))


# what `python -m reconciler` runs: its package directory, and whether an editable install's hook is loaded
_PROBE = (
    "import sys, reconciler; print(reconciler.__file__); print(any('__editable__' in m for m in sys.modules))"
)


def _measured_package(cwd: Path) -> Path:
    """The ``reconciler`` package that ``python -m reconciler`` runs from ``cwd`` (installed, or the source
    tree of an editable install), its bytecode compiled, as an installed package has it: with
    ``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__``, every run would compile each module from source.
    An editable install's import hook loads ``pathlib`` into every process (``--help`` too), which hides
    about 3 ms that ``job list`` pays on an installed package: the figures then say they are low."""
    done = subprocess.run([sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, cwd=cwd)
    init, editable = done.stdout.splitlines()[:2]
    package = Path(init).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, capture_output=True)
    kind = "installed" if editable == "False" else "editable install: pathlib is in start-up, job list is low"
    print(f"CLI figures of {package} ({kind})")
    return package


def _cli(state: Path, tmp: Path) -> None:
    """The commands in fresh processes, one of each per round (so all see the same load): best wall and
    best CPU (user + system) of 7 rounds. Each runs in a directory of its own, never in the source tree (so
    ``python -m reconciler`` runs the installed package, the same for all)."""
    _measured_package(tmp)
    cache_home = tmp / "cache"  # the cache of checked config files (reconciler.config_cache) of this run
    env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(cache_home)}
    (tmp / "no-cache").write_text("")  # a file: no cache directory can be made under it
    no_cache = {**env, "XDG_CACHE_HOME": str(tmp / "no-cache")}
    with_config = tmp / "with-config"
    with_config.mkdir()
    (with_config / "kgitops.yaml").write_text(f"engine:\n  state_dir: {state}\n  autostart: false\n")
    one = tmp / "one.yaml"
    one.write_text((REPO / "examples" / "jobs" / "job-best-effort-dual-psi.yaml").read_text())
    kgitops = [sys.executable, "-m", "reconciler"]
    commands = {
        "kgitops --help (start-up)": (kgitops + ["--help"], tmp, env),
        "kgitops job list --state-dir": (kgitops + ["job", "list", "--state-dir", str(state)], tmp, env),
        "kgitops job list (kgitops.yaml)": (kgitops + ["job", "list"], with_config, env),
        "kgitops job list (kgitops.yaml, no cache)": (kgitops + ["job", "list"], with_config, no_cache),
        # --no-cache: every round checks the file, as the first run does (the result cache would answer the
        # other six from its file)
        "kgitops validate one.yaml": (kgitops + ["validate", "--no-cache", str(one)], tmp, env),
    }
    best = {label: (float("inf"), float("inf")) for label in commands}
    for _ in range(7):
        for label, (cmd, cwd, cmd_env) in commands.items():
            used = _children_cpu()
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=cmd_env, cwd=cwd)
            wall, cpu = time.perf_counter() - t0, _children_cpu() - used
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    for label, (wall, cpu) in best.items():
        print(f"{label + ' (fresh process)':<60} {wall * 1000:9.1f} ms  (CPU {cpu * 1000:.0f} ms)")
    help_wall, help_cpu = best["kgitops --help (start-up)"]
    for label in (
        "kgitops job list --state-dir",
        "kgitops job list (kgitops.yaml)",
        "kgitops job list (kgitops.yaml, no cache)",
    ):
        over = (best[label][0] - help_wall) * 1000
        over_cpu = (best[label][1] - help_cpu) * 1000
        ok = "ok" if over_cpu <= CLI_OVER_STARTUP_TARGET_MS else "MISSED"
        aim = "ok" if over_cpu <= CLI_OVER_STARTUP_AIM_MS else "not yet"
        print(f"{'  = ' + label[8:] + ' over start-up':<60} {over:9.1f} ms  "
              f"(CPU {over_cpu:.0f} ms; target <= 30 ms: {ok}; aim <= 22 ms: {aim})")  # fmt: skip
    wall, cpu = best["kgitops validate one.yaml"]
    ok = "ok" if cpu * 1000 <= VALIDATE_ONE_TARGET_MS else "MISSED"
    print(f"{'  = validate one.yaml':<60} {wall * 1000:9.1f} ms  "
          f"(CPU {cpu * 1000:.0f} ms; target <= 100 ms: {ok})")  # fmt: skip
    _import_top(state, tmp, env)


def _import_top(state: Path, tmp: Path, env: dict[str, str], runs: int = 5, top: int = 15) -> None:
    """What ``job list`` adds to start-up, module by module: ``python -X importtime``'s self time (best of
    ``runs``) of each module it loads that ``--help`` does not, the largest ``top`` and their sum. Modules
    loaded by ``importlib.import_module`` (the PEP 562 names of ``reconciler.sdk`` and ``reconciler.views``)
    are not reported by ``-X importtime``: the sum leaves them out."""

    def self_times(*args: str) -> dict[str, int]:
        err = subprocess.run([sys.executable, "-X", "importtime", "-m", "reconciler", *args], check=True,
                             capture_output=True, text=True, env=env, cwd=tmp).stderr  # fmt: skip
        rows = [line.split("|") for line in err.splitlines() if line.startswith("import time:")]
        return {r[2].strip(): int(r[0].split(":")[1]) for r in rows[1:]}  # rows[0]: the header

    start_up: set[str] = set()
    best: dict[str, int] = {}
    for _ in range(runs):
        start_up |= set(self_times("--help"))
        for name, us in self_times("job", "list", "--state-dir", str(state)).items():
            best[name] = min(best.get(name, us), us)
    added = sorted(((us, name) for name, us in best.items() if name not in start_up), reverse=True)
    print(f"modules job list loads beyond --help: {len(added)}, {sum(us for us, _ in added) / 1000:.1f} ms "
          f"(-X importtime self, best of {runs}); the largest:")  # fmt: skip
    for us, name in added[:top]:
        print(f"  {us / 1000:6.2f} ms  {name}")


TASKS = 10_000


def _task_pages(state: Path, count: int) -> None:
    """``Client.list_task`` without ``--job`` on ``count`` KusciaTasks (a quarter Failed): a page of 50 first,
    in the middle and Failed only; beside it what ``task list`` did before (list and view every task, then
    page) and ``task show`` of a mistyped name (the names alone)."""
    from reconciler.model import DEFAULT_NAMESPACE
    from reconciler.paging import page_tasks
    from reconciler.sdk import TaskNotFound
    from reconciler.views import task_info

    backend = LocalBackend(state, autostart=False)
    with backend.store.transaction():
        for i in range(count):
            phase = "Failed" if i % 4 == 0 else "Succeeded"
            backend.store.create(Resource(kind="KusciaTask", name=f"task-{i:05d}", status={"phase": phase}))
    client = Client(backend)
    assert len(client.list_task(max_keys=50).items) == 50
    middle = encode_marker(f"task-{count // 2:05d}")
    print(f"with {count} KusciaTasks:")
    _timed("list_task: first page of 50", lambda: client.list_task(max_keys=50), target_ms=PAGE_TARGET_MS)
    _timed("list_task: a page of 50 in the middle (marker)", lambda: client.list_task(marker=middle),
           target_ms=PAGE_TARGET_MS)  # fmt: skip
    _timed("list_task: status=Failed", lambda: client.list_task(status="Failed"), target_ms=PAGE_TARGET_MS)

    def listed_then_paged() -> None:
        tasks = backend.list("KusciaTask", DEFAULT_NAMESPACE)
        infos = sorted((task_info(t) for t in tasks), key=lambda t: t.name)
        page_tasks(infos, set(), 50, None)

    _timed("  before: every task listed and viewed, then paged", listed_then_paged, repeat=2)

    def missing() -> None:
        try:
            client.show_task("task-0004x")
        except TaskNotFound:
            return
        raise AssertionError("task-0004x exists")

    _timed("show_task: a mistyped name (NotFound, did you mean)", missing, repeat=5)
    backend.close()


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (steadier than wall time under load)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

if __name__ == "__main__":
    main()
