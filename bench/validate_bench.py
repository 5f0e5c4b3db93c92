"""Benchmark ``kgitops validate``: per-manifest CPU, memory, --workers, start-up, and check-jsonschema.

Usage: ``python bench/validate_bench.py [-n 2000] [--large N] [--workers 2]`` (``pip install
check-jsonschema`` for the comparison; without it only kgitops is measured). Generates seed-like KusciaJobs
(2-4 tasks, ~3 KB each, with the long ``taskInputConfig`` strings) in a temporary directory and prints each
figure beside its target (issue 17):

- in-process CPU per manifest of ``validate_file`` (target <= 0.16 ms), beside libyaml's compose alone;
- peak RSS of ``kgitops validate`` at N and at --large files (default 10 N): flat, so the growth per 1,000
  files is printed (the files are found as they are checked, and the cross-file index moves to a temporary
  SQLite database past a few thousand entries);
- ``--workers`` at --large files (medians of three alternating runs): wall time and CPU (workers included)
  against one process, and the speed-up two idle cores would give for that CPU (target >= 1.6x); on a shared
  machine the wall figure is noise;
- through the CLI, CPU per manifest against check-jsonschema on the same files, side by side (target >= 20x);
- the result cache, at --large files (medians of three): a cold run that fills it against one with
  ``--no-cache`` (target: at most 5 % more CPU), a warm run (the same files again: every result read back),
  and a run after a one-file change, beside the cold figure; every other figure is measured with
  ``--no-cache``, so it stays comparable with the figures from before the cache;
- start-up: median wall time of ``kgitops --help`` (target <= 80 ms) and ``kgitops validate one.yaml``
  (target <= 100 ms), beside a bare ``python -c pass``. An editable install (``pip install -e``) adds its
  import hook to every start; the targets are for an installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CONFIG = {
    "sf_datasource_config": {"alice": {"id": "default-data-source"}, "bob": {"id": "default-data-source"}},
    "sf_cluster_desc": {
        "parties": ["alice", "bob"],
        "devices": [
            {
                "name": "spu",
                "type": "spu",
                "parties": ["alice", "bob"],
                "config": json.dumps(
                    {
                        "runtime_config": {"protocol": "REF2K", "field": "FM64"},
                        "link_desc": {
                            "connect_retry_times": 60,
                            "connect_retry_interval_ms": 1000,
                            "brpc_channel_protocol": "http",
                            "recv_timeout_ms": 1200000,
                        },
                    }
                ),
            },
            {
                "name": "heu",
                "type": "heu",
                "parties": ["alice", "bob"],
                "config": json.dumps({"mode": "PHEU", "schema": "paillier", "key_size": 2048}),
            },
        ],
    },
}
_COMPONENTS = ["psi", "train_test_split", "ss_sgd_train", "ss_sgd_predict", "biclassification_eval"]


def manifest(i: int, rng: random.Random) -> str:
    n_tasks = rng.randint(2, 4)
    lines = [
        "apiVersion: kuscia.secretflow/v1alpha1",
        "kind: KusciaJob",
        "metadata:",
        f"  name: job-{i:06d}",
        "  namespace: cross-domain",
        "spec:",
        "  initiator: alice",
        f"  scheduleMode: {rng.choice(['Strict', 'BestEffort'])}",
        f"  maxParallelism: {rng.randint(1, 4)}",
        "  tasks:",
    ]
    for t in range(n_tasks):
        config = dict(_CONFIG)
        config["sf_node_eval_param"] = {"domain": "ml.train", "name": _COMPONENTS[t], "version": "0.0.1"}
        config["sf_input_ids"] = [f"job-{i:06d}-input-{t}"]
        config["sf_output_ids"] = [f"job-{i:06d}-output-{t}"]
        lines += [
            f"    - alias: task-{t}",
            f"      taskID: job-{i:06d}-task-{t}",
            f"      priority: {rng.choice([0, 50, 100])}",
            "      appImage: secretflow-image",
            f"      taskInputConfig: '{json.dumps(config, separators=(',', ':'))}'",
            "      parties:",
            "        - domainID: alice",
            "        - domainID: bob",
        ]
        if t:
            lines.append(f"      dependencies: ['task-{t - 1}']")
    return "\n".join(lines) + "\n"


def generate(directory: Path, n: int) -> list[Path]:
    rng = random.Random(42)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = directory / f"job-{i:06d}.yaml"
        p.write_text(manifest(i, rng), encoding="utf-8")
        paths.append(p)
    image = directory / "appimage.yaml"
    image.write_text(
        "apiVersion: kuscia.secretflow/v1alpha1\nkind: AppImage\nmetadata:\n  name: secretflow-image\nspec:\n"
        "  image: {name: secretflow/secretflow-lite-anolis8, tag: latest}\n  deployTemplates:\n"
        "    - name: secretflow\n      spec:\n        containers:\n          - name: secretflow\n"
        "            workingDir: /work\n",
        encoding="utf-8",
    )
    return paths


_WRAPPER = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def run(cmd: list[str]) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, exit code, peak RSS KiB) of one command (plus a tiny wrapper process that
    reports the command's own peak memory)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        print(proc.stderr[-2000:], file=sys.stderr)
    rss = int(proc.stderr.strip().splitlines()[-1]) if proc.stderr.strip() else 0
    return wall, cpu, proc.returncode, rss


def in_process(paths: list[Path]) -> tuple[float, float]:
    """CPU ms per manifest of validate_file alone (no start-up, no discovery), and of libyaml composing the
    same bytes (``yaml.compose`` with the C loader): the floor of any YAML validator. Best of 5."""
    import yaml

    from reconciler.validate import validate_file

    blobs = [(str(p), p.read_bytes()) for p in paths]
    validate_file(*blobs[0])  # load and compile the schemas once

    def best(check: object) -> float:
        assert callable(check)
        times = []
        for _ in range(5):
            start = time.process_time()
            for path, data in blobs:
                check(path, data)
            times.append((time.process_time() - start) / len(blobs) * 1000)
        return min(times)

    return best(validate_file), best(lambda _p, d: yaml.compose(d, Loader=yaml.CSafeLoader))


def line(name: str, n: int, wall: float, cpu: float, extra: str = "") -> None:
    print(f"{name:<34} {n / wall:>10.0f} manifests/s  {cpu / n * 1000:>7.3f} ms CPU/manifest  {extra}")


def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


def startup(base: list[str], one: Path, runs: int = 11) -> None:
    """Median wall time (and CPU) of short commands, each run ``runs`` times."""

    def median_of(cmd: list[str]) -> tuple[float, float]:
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return statistics.median(walls) * 1000, statistics.median(cpus) * 1000

    bare_wall, bare_cpu = median_of([sys.executable, "-c", "pass"])
    print(f"{'start-up: python -c pass':<40} {bare_wall:6.0f} ms wall {bare_cpu:6.0f} ms CPU")
    for args, target in ((["--help"], 80), (["validate", str(one)], 100)):
        wall, cpu = median_of(base + args)
        name = "start-up: kgitops " + " ".join(a if a != str(one) else "one.yaml" for a in args)
        print(
            f"{name:<40} {wall:6.0f} ms wall {cpu:6.0f} ms CPU  "
            f"(target <= {target} ms: {verdict(wall <= target)})"
        )


# every figure but the result cache's own is of a run without it: comparable with those from before it
NO_CACHE = ["validate", "--no-cache"]


def cached(base: list[str], directory: Path, n: int, cache_home: Path) -> None:
    """The result cache over ``directory``'s ``n`` files, medians of three runs each: ``--no-cache`` and cold
    (an empty cache, filled by the run) alternately, then warm (the same files again) and after one file
    changed."""
    cmd = base + ["validate", str(directory)]
    nones, colds, warms, edits = [], [], [], []
    for _ in range(3):
        nones.append(run(base + NO_CACHE + [str(directory)])[:2])
        shutil.rmtree(cache_home, ignore_errors=True)
        colds.append(run(cmd)[:2])
    for _ in range(3):
        warms.append(run(cmd)[:2])
    victim = sorted(directory.glob("job-*.yaml"))[n // 2]
    text = victim.read_text(encoding="utf-8")
    for k in range(3):
        victim.write_text(text + f"# edit {k}\n", encoding="utf-8")  # another byte string, the same job
        edits.append(run(cmd)[:2])
    victim.write_text(text, encoding="utf-8")

    def median(runs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

    uncached = median(nones)
    _, cpu0 = uncached
    for name, (wall, cpu), extra in (
        ("cold, --no-cache", uncached, ""),
        ("cold, cache on (filled)", median(colds), f"{cpu_ratio(median(colds)[1], cpu0)} (target <= +5 %: "
         f"{verdict(median(colds)[1] <= cpu0 * 1.05)})"),
        ("warm (same files again)", median(warms), f"{cpu_ratio(median(warms)[1], cpu0)}"),
        ("warm, one file changed", median(edits), f"{cpu_ratio(median(edits)[1], cpu0)}"),
    ):
        print(f"{'cache: ' + name:<40} {wall * 1000:7.0f} ms wall {cpu * 1000:7.0f} ms CPU  {extra}")
    print(f"{'':<40} ({n} files; a warm run still reads and hashes every file, and starts the command)")


def cpu_ratio(cpu: float, base: float) -> str:
    return f"{cpu / base * 100:.0f} % of the cold CPU"


def _tool(name: str) -> str:
    """A command on PATH, or beside this Python (a venv's bin/ when the venv is not activated); "" if none."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="number of manifests (default 2000)")
    ap.add_argument("--large", type=int, default=0, help="files for the memory and --workers runs (10 N)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers for the --workers run")
    ap.add_argument(
        "--jsonschema-sample", type=int, default=0, help="files given to check-jsonschema (default: all N)"
    )
    args = ap.parse_args()
    large_n = args.large or 10 * args.n
    kgitops = _tool("kgitops")
    tmp = Path(tempfile.mkdtemp(prefix="kgitops-bench-"))
    try:
        paths = generate(tmp / "manifests", args.n)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        print(f"{args.n} KusciaJobs, {size / 1024:.1f} KiB on average, in {tmp}")
        base = [kgitops] if kgitops else [sys.executable, "-m", "reconciler"]

        ms, compose_ms = in_process(paths)
        name = "kgitops validate_file (in-process)"
        print(
            f"{name:<34} {1000 / ms:>10.0f} manifests/s  {ms:>7.3f} ms CPU/manifest  "
            f"(target <= 0.16 ms: {verdict(ms <= 0.16)})"
        )
        print(f"{'libyaml compose alone':<34} {1000 / compose_ms:>10.0f} manifests/s  {compose_ms:>7.3f} ms "
              f"CPU/manifest  (validate_file = {ms / compose_ms:.2f}x compose)")

        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # the runs' result cache: not the user's
        wall, cpu, code, rss = run(base + NO_CACHE + ["--output", "json", str(tmp / "manifests")])
        assert code == 0, "the generated manifests should be valid"
        line("kgitops validate -o json", args.n, wall, cpu)

        generate(tmp / "large", large_n)
        wall1, cpu1, code, rss_large = run(base + NO_CACHE + [str(tmp / "large")])
        assert code == 0, "the generated manifests should be valid"
        _, _, _, rss_small = run(base + NO_CACHE + [str(tmp / "manifests")])
        line(f"kgitops validate ({large_n} files)", large_n, wall1, cpu1)
        growth = (rss_large - rss_small) / 1024 / max(1, (large_n - args.n) / 1000)
        print(
            f"{'memory':<34} peak RSS {rss_small / 1024:.1f} MiB at {args.n} files, "
            f"{rss_large / 1024:.1f} MiB at {large_n} files: {growth:.2f} MiB more per 1,000 files "
            "(target: flat; was 25 -> 70 MiB at 2k -> 20k)"
        )
        # one process and --workers, alternately three times each: the medians (one run each swings ±5 %)
        ones, manys = [(wall1, cpu1)], []
        for k in range(3):
            if k:
                w, c, _, _ = run(base + NO_CACHE + [str(tmp / "large")])
                ones.append((w, c))
            w, c, code, _ = run(base + NO_CACHE + ["--workers", str(args.workers), str(tmp / "large")])
            manys.append((w, c))
        wall1, cpu1 = statistics.median(w for w, _ in ones), statistics.median(c for _, c in ones)
        wall2, cpu2 = statistics.median(w for w, _ in manys), statistics.median(c for _, c in manys)
        line("kgitops validate (median of 3)", large_n, wall1, cpu1)
        line(f"kgitops validate --workers {args.workers} (median of 3)", large_n, wall2, cpu2)
        idle = cpu1 / (cpu2 / args.workers)  # all CPU spread evenly over the cores: the best case
        print(
            f"{'--workers ' + str(args.workers):<34} {wall1 / wall2:.2f}x faster here (wall), "
            f"{cpu2 / cpu1:.2f}x the CPU of one process; on {args.workers} idle cores that CPU allows "
            f"{idle:.2f}x (target >= 1.6x: {verdict(wall1 / wall2 >= 1.6)} here)"
        )

        cached(base, tmp / "large", large_n, tmp / "cache")

        one = tmp / "one.yaml"
        shutil.copy(paths[0], one)
        startup(base, one)

        tool = _tool("check-jsonschema")
        if not tool:
            print("check-jsonschema not installed (pip install check-jsonschema): comparison skipped")
            return 0
        sample = [str(p) for p in paths[: args.jsonschema_sample or len(paths)]]
        wall, cpu, code, _ = run([tool, "--schemafile", str(REPO / "schemas" / "kusciajob.json"), *sample])
        line("check-jsonschema (same schema)", len(sample), wall, cpu, f"exit {code}")
        jwall, jcpu, _, _ = run(base + NO_CACHE + sample)
        line("kgitops validate (same files)", len(sample), jwall, jcpu)
        print(
            f"speed-up (CPU per manifest, same files): {cpu / jcpu:.1f}x "
            f"(target >= 20x: {verdict(cpu / jcpu >= 20)})"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
