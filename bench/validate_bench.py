"""Benchmark ``kgitops validate`` against ``check-jsonschema`` on the same generated manifests.

Usage: ``python bench/validate_bench.py [-n 2000] [--workers 2]`` (``pip install check-jsonschema`` for the
comparison; without it only kgitops is measured). Generates N seed-like KusciaJobs (2-4 tasks, ~3 KB each,
with the long ``taskInputConfig`` strings) in a temporary directory and prints, for each tool, manifests/s and
CPU ms per manifest (user+sys of the child process, so interpreter start-up is included), plus kgitops's
in-process cost per manifest and its peak memory at N and at N/4 files (flat memory: the two are close).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
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


def in_process(paths: list[Path]) -> float:
    """CPU ms per manifest of validate_file alone (no start-up, no discovery)."""
    from reconciler.validate import validate_file

    blobs = [(str(p), p.read_bytes()) for p in paths]
    validate_file(*blobs[0])  # load and compile the schemas once
    start = time.process_time()
    for path, data in blobs:
        validate_file(path, data)
    return (time.process_time() - start) / len(blobs) * 1000


def line(name: str, n: int, wall: float, cpu: float, extra: str = "") -> None:
    print(f"{name:<34} {n / wall:>10.0f} manifests/s  {cpu / n * 1000:>7.3f} ms CPU/manifest  {extra}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="number of manifests (default 2000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers for the --workers run")
    ap.add_argument(
        "--jsonschema-sample", type=int, default=0, help="files given to check-jsonschema (default: all N)"
    )
    args = ap.parse_args()
    kgitops = shutil.which("kgitops") or ""
    tmp = Path(tempfile.mkdtemp(prefix="kgitops-bench-"))
    try:
        paths = generate(tmp / "manifests", args.n)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        print(f"{args.n} KusciaJobs, {size / 1024:.1f} KiB on average, in {tmp}")
        base = [kgitops] if kgitops else [sys.executable, "-m", "reconciler"]
        ms = in_process(paths)
        name = "kgitops validate_file (in-process)"
        print(f"{name:<34} {1000 / ms:>10.0f} manifests/s  {ms:>7.3f} ms CPU/manifest")
        wall, cpu, code, rss = run(base + ["validate", "--output", "json", str(tmp / "manifests")])
        assert code == 0, "the generated manifests should be valid"
        line("kgitops validate", args.n, wall, cpu, f"peak RSS {rss // 1024} MiB")
        wall, cpu, code, _ = run(base + ["validate", "--workers", str(args.workers), str(tmp / "manifests")])
        line(f"kgitops validate --workers {args.workers}", args.n, wall, cpu)
        quarter = tmp / "quarter"
        quarter.mkdir()
        for p in paths[: max(1, args.n // 4)]:
            shutil.copy(p, quarter / p.name)
        _, _, _, rss_q = run(base + ["validate", str(quarter)])
        print(f"{'memory':<34} peak RSS {rss_q // 1024} MiB at N/4 files, {rss // 1024} MiB at N files")
        tool = shutil.which("check-jsonschema")
        if not tool:
            print("check-jsonschema not installed (pip install check-jsonschema): comparison skipped")
            return 0
        sample = [str(p) for p in paths[: args.jsonschema_sample or len(paths)]]
        wall, cpu, code, _ = run([tool, "--schemafile", str(REPO / "schemas" / "kusciajob.json"), *sample])
        line("check-jsonschema (same schema)", len(sample), wall, cpu, f"exit {code}")
        jwall, jcpu, _, _ = run(base + ["validate", *sample])
        line("kgitops validate (same files)", len(sample), jwall, jcpu)
        print(f"speed-up (CPU per manifest, same files): {cpu / jcpu:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
