"""Leader election takeover times on a real API server (run by hand: ``python bench/lease_bench.py``).

Two electors (``reconciler.backends.k8s.lease.LeaseElector``, each with its own API client) contend for one
Lease in ``cross-domain``. Each round the leader either crashes (its loop stops without releasing, as with
kill -9) or stops cleanly (``end()``: releases, as on SIGTERM), and the time until the other leads is taken
from the moment the leader stopped.

Targets: after a crash, within lease duration + 2 x retry period (client-go's bound: the follower counts the
lease duration from the last renewal it saw, and tries every retry period); after a release, within 1.2 x
the retry period (its next try). Needs ``KGITOPS_TEST_KUBECONFIG`` (``../shared/tools/k8s/up`` prints it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.backends.k8s.election import JITTER_FACTOR, Timing  # noqa: E402
from reconciler.backends.k8s.lease import LeaseClient, LeaseElector  # noqa: E402
from reconciler.backends.kubernetes import load_api_client  # noqa: E402

NAMESPACE = "cross-domain"


def until_leading(elector: LeaseElector, timeout: float) -> float:
    t0 = time.monotonic()
    while not elector.leading():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"{elector.identity} did not take over within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - t0


def crash(elector: LeaseElector) -> None:
    """Stop its loop without releasing (what kill -9 leaves behind)."""
    elector._stop.set()
    if elector._thread is not None:
        elector._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each kind (default 5)")
    ap.add_argument("--lease", type=float, default=3.0, help="lease duration, s (default 3)")
    ap.add_argument("--renew", type=float, default=2.0, help="renew deadline, s (default 2)")
    ap.add_argument("--retry", type=float, default=0.5, help="retry period, s (default 0.5)")
    args = ap.parse_args()
    kubeconfig = os.environ.get("KGITOPS_TEST_KUBECONFIG", "")
    if not kubeconfig:
        raise SystemExit("set KGITOPS_TEST_KUBECONFIG (../shared/tools/k8s/up prints it)")
    timing = Timing(args.lease, args.renew, args.retry)
    timing.check()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    clients = [load_api_client(kubeconfig) for _ in range(2)]

    def elector(i: int, round_: int) -> LeaseElector:
        store = LeaseClient(clients[i], NAMESPACE, name, request_timeout=max(1.0, args.renew / 2))
        return LeaseElector(store, f"bench-{i}-{round_}", timing)

    crash_target = args.lease + 2 * args.retry
    release_target = JITTER_FACTOR * args.retry
    results: dict[str, list[float]] = {"crash": [], "release": []}
    try:
        for round_ in range(args.rounds):
            for kind in ("crash", "release"):
                a, b = elector(0, round_), elector(1, round_)
                a.begin(lambda: None)
                until_leading(a, args.lease * 3)
                b.begin(lambda: None)
                time.sleep(args.retry * 2)  # b has seen a renew a few times (a steady state, not a start)
                assert not b.leading()
                if kind == "crash":
                    crash(a)
                else:
                    a.end()
                results[kind].append(until_leading(b, args.lease * 4))
                b.end()
    finally:
        from kubernetes import client

        try:
            client.CoordinationV1Api(clients[0]).delete_namespaced_lease(name, NAMESPACE)
        finally:
            for c in clients:
                c.close()
    print(f"lease {args.lease:g} s, renew deadline {args.renew:g} s, retry period {args.retry:g} s")
    for kind, target in (("crash", crash_target), ("release", release_target)):
        times = results[kind]
        print(
            f"takeover after a {kind:7}: p50 {statistics.median(times):.2f} s, max {max(times):.2f} s "
            f"over {len(times)} rounds (target <= {target:.2f} s)"
        )


if __name__ == "__main__":
    main()
