"""Requests/s and latency of `kgitops serve` for status/batchQuery of 100 jobs, over HTTPS with mutual TLS,
from a second process on loopback.

    python bench/kusciaapi_bench.py [--jobs 100] [--seconds 10] [--clients 4] [--insecure-http]

It starts `kgitops serve` (embedded engine, fresh state dir, test certificates made with `cryptography`),
creates the jobs through KusciaAPI, then this process hammers batchQuery on kept-alive connections.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.backends.certs import make_pki  # noqa: E402

TOKEN = "bench-token"


def job(i: int) -> dict[str, object]:
    parties = [{"domain_id": "alice"}, {"domain_id": "bob"}]
    return {
        "job_id": f"bench-{i:03d}",
        "initiator": "alice",
        "tasks": [
            {
                "alias": "psi",
                "task_id": f"bench-{i:03d}-psi",
                "app_image": "secretflow-image",
                "parties": parties,
                "task_input_config": "{}",
            },
            {
                "alias": "split",
                "task_id": f"bench-{i:03d}-split",
                "app_image": "secretflow-image",
                "parties": parties,
                "dependencies": ["psi"],
                "task_input_config": "{}",
            },
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--insecure-http", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kgitops-bench-"))
    pki = make_pki(tmp / "certs", TOKEN)
    cmd = [
        sys.executable,
        "-m",
        "reconciler",
        "serve",
        "--state-dir",
        str(tmp / "state"),
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        str(pki.token),
    ]
    cmd += (
        ["--insecure-http"]
        if args.insecure_http
        else ["--cert", str(pki.server_cert), "--key", str(pki.server_key), "--ca", str(pki.ca)]
    )
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=tmp)
    assert server.stderr is not None
    m = re.search(r"(https?)://127\.0\.0\.1:(\d+)", server.stderr.readline())
    if not m:
        sys.exit(f"serve did not start: {server.stderr.read()}")
    port = int(m.group(2))
    ctx = None
    if not args.insecure_http:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))

    def connect() -> http.client.HTTPConnection:
        if ctx is None:
            return http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)

    headers = {"Token": TOKEN, "Content-Type": "application/json"}

    def post(conn: http.client.HTTPConnection, op: str, body: object) -> dict:
        conn.request("POST", f"/api/v1/job/{op}", json.dumps(body), headers)
        doc = json.loads(conn.getresponse().read())
        if doc["status"]["code"] != 0:
            raise SystemExit(f"{op} failed: {doc['status']}")
        return doc

    try:
        conn = connect()
        for i in range(args.jobs):
            post(conn, "create", job(i))
        ids = [f"bench-{i:03d}" for i in range(args.jobs)]
        payload = {"job_ids": ids}
        assert len(post(conn, "status/batchQuery", payload)["data"]["jobs"]) == args.jobs
        conn.close()

        latencies: list[float] = []
        lock = threading.Lock()
        end = time.monotonic() + args.seconds

        def client() -> None:
            c = connect()
            mine = []
            while time.monotonic() < end:
                t0 = time.perf_counter()
                post(c, "status/batchQuery", payload)
                mine.append(time.perf_counter() - t0)
            c.close()
            with lock:
                latencies.extend(mine)

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        latencies.sort()

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

        scheme = "http" if args.insecure_http else "https+mTLS"
        print(
            f"kgitops serve ({scheme}, embedded engine): status/batchQuery of {args.jobs} jobs, "
            f"{args.clients} client connections, {elapsed:.1f}s"
        )
        print(
            f"  requests: {len(latencies)}  throughput: {len(latencies) / elapsed:.1f} req/s "
            f"({len(latencies) * args.jobs / elapsed:.0f} job statuses/s)"
        )
        p50, p90, p99, worst = pct(0.50), pct(0.90), pct(0.99), latencies[-1] * 1000
        print(f"  latency ms: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {worst:.1f}")
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
