"""Requests/s and latency of `kgitops serve`, over HTTPS or gRPC with mutual TLS, from other processes on
loopback.

    python bench/kusciaapi_bench.py [--op query|batch] [--transport http|grpc] [--connections 16]
                                    [--procs 4] [--jobs 100] [--seconds 10] [--insecure]
    python bench/kusciaapi_bench.py --all      # query and batch, over http and grpc

It starts `kgitops serve --grpc-listen` (embedded engine, fresh state dir, test certificates made with
`cryptography`), creates the jobs through KusciaAPI, then ``--procs`` client processes, each with its share
of ``--connections`` kept-alive connections (one thread each), call queryJob (one job per call, cycling
through them) or status/batchQuery (all ``--jobs`` jobs per call) for ``--seconds``.

Targets (issue 14): queryJob >= 1,000 req/s with 16 connections and p99 <= 50 ms; batchQuery of 100 jobs
>= 300 req/s; the same over gRPC.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


class HTTPClient:
    def __init__(self, port: int, certs: dict[str, str] | None) -> None:
        if certs is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        else:
            ctx = ssl.create_default_context(cafile=certs["ca"])
            ctx.load_cert_chain(certs["cert"], certs["key"])
            self.conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)

    def call(self, op: str, body: dict[str, Any]) -> int:
        self.conn.request("POST", f"/api/v1/job/{op}", json.dumps(body), {"Token": TOKEN})
        return int(json.loads(self.conn.getresponse().read())["status"]["code"])

    def close(self) -> None:
        self.conn.close()


class GrpcClient:
    def __init__(self, port: int, certs: dict[str, str] | None) -> None:
        import grpc

        from reconciler.kusciaapi.messages import OPS, message

        options = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own per client
        if certs is None:
            self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        else:
            creds = grpc.ssl_channel_credentials(
                Path(certs["ca"]).read_bytes(),
                Path(certs["key"]).read_bytes(),
                Path(certs["cert"]).read_bytes(),
            )
            self.channel = grpc.secure_channel(f"localhost:{port}", creds, options=options)
        self.calls = {}
        for op in ("query", "status/batchQuery", "create"):
            m = OPS[op]
            stub = self.channel.unary_unary(
                m.path,
                request_serializer=message(m.request).SerializeToString,
                response_deserializer=message(m.response).FromString,
            )
            self.calls[op] = (stub, message(m.request))

    def call(self, op: str, body: dict[str, Any]) -> int:
        from reconciler.kusciaapi import protojson

        stub, request = self.calls[op]
        msg = protojson.to_message(request.DESCRIPTOR.name, body)
        return int(stub(msg, metadata=(("token", TOKEN),), timeout=30).status.code)

    def close(self) -> None:
        self.channel.close()


def client_process(args: dict[str, Any], out: Any) -> None:
    """One client process: ``threads`` connections calling until ``end``; sends back its latencies."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def run(k: int) -> None:
        nonlocal errors
        make = GrpcClient if args["transport"] == "grpc" else HTTPClient
        c = make(args["port"], args["certs"])
        time.sleep(max(0.0, args["start"] - time.time()))  # every client starts at once
        mine: list[float] = []
        bad = 0
        i = k
        while time.time() < args["end"]:
            if args["op"] == "query":
                body: dict[str, Any] = {"job_id": f"bench-{i % args['jobs']:03d}"}
                op = "query"
            else:
                body, op = {"job_ids": [f"bench-{j:03d}" for j in range(args["jobs"])]}, "status/batchQuery"
            i += 7
            t0 = time.perf_counter()
            if c.call(op, body) != 0:
                bad += 1
            mine.append(time.perf_counter() - t0)
        c.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=run, args=(k,)) for k in range(args["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors))


def measure(op: str, transport: str, ports: dict[str, int], certs: dict[str, str] | None, a: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # every process started and connected
    end = start_at + a.seconds
    procs = []
    for p in range(a.procs):
        threads = a.connections // a.procs + (1 if p < a.connections % a.procs else 0)
        args = {
            "op": op,
            "transport": transport,
            "port": ports[transport],
            "certs": certs,
            "jobs": a.jobs,
            "threads": threads,
            "start": start_at,
            "end": end,
        }
        proc = ctx.Process(target=client_process, args=(args, out))
        proc.start()
        procs.append(proc)
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    elapsed = a.seconds  # every client starts at start_at and stops at end
    if not latencies:
        print(f"{op} over {transport}: no request finished")
        return

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    what = "queryJob" if op == "query" else f"batchQuery of {a.jobs} jobs"
    print(
        f"{what:>22} over {transport:4} ({'plain' if certs is None else 'mTLS'}), {a.connections} conns: "
        f"{len(latencies) / elapsed:7.1f} req/s  p50 {pct(0.5):6.1f} ms  p99 {pct(0.99):6.1f} ms  "
        f"max {latencies[-1] * 1000:6.1f} ms  errors {errors}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--op", choices=("query", "batch"), default="query")
    ap.add_argument("--transport", choices=("http", "grpc"), default="http")
    ap.add_argument("--all", action="store_true", help="query and batch, over http and grpc")
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--procs", type=int, default=4, help="client processes sharing the connections")
    ap.add_argument("--insecure", action="store_true", help="plain HTTP and gRPC on loopback, no TLS")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kgitops-bench-"))
    pki = make_pki(tmp / "certs", TOKEN)
    cmd = [sys.executable, "-m", "reconciler", "serve", "--state-dir", str(tmp / "state")]
    cmd += ["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--token-file", str(pki.token)]
    cmd += (
        ["--insecure-http"]
        if a.insecure
        else ["--cert", str(pki.server_cert), "--key", str(pki.server_key), "--ca", str(pki.ca)]
    )
    log = tmp / "serve.log"
    with open(log, "w") as err:
        server = subprocess.Popen(cmd, stderr=err, text=True, cwd=tmp)
    certs = (
        None if a.insecure else {"ca": str(pki.ca), "cert": str(pki.client_cert), "key": str(pki.client_key)}
    )
    try:
        deadline = time.monotonic() + 30
        while not (m := re.search(r"https?://127\.0\.0\.1:(\d+)", log.read_text())):
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"serve did not start: {log.read_text()}")
            time.sleep(0.05)
        g = re.search(r"over gRPC on 127\.0\.0\.1:(\d+)", log.read_text())
        assert g is not None
        ports = {"http": int(m.group(1)), "grpc": int(g.group(1))}
        c = HTTPClient(ports["http"], certs)
        for i in range(a.jobs):
            if c.call("create", job(i)) != 0:
                sys.exit("create failed")
        c.close()
        runs = (
            [(op, t) for t in ("http", "grpc") for op in ("query", "batch")]
            if a.all
            else [(a.op, a.transport)]
        )
        for op, transport in runs:
            measure(op, transport, ports, certs, a)
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
