"""The Kubernetes backend's change feed on a real API server (by hand: ``python bench/k8s_feed_bench.py``).

Creates ``--jobs`` KusciaJobs (default 2,000) with a label of their own in ``cross-domain``, then compares
what a plan's read of them costs:

- a full list (``KubernetesBackend.list``: what every plan did before the feed, and what ``changes`` costs on
  its first two calls, in chunks of 500);
- ``changes(since=token)`` after one out-of-band change (another client writes one job's status, as Kuscia's
  controllers do), answered from the watch's events (``k8s.informer``) with no request.

Also printed: how long the change took to arrive through the watch (write to visible in the feed), and what
a burst of status writes (``--storm`` writes on ``--storm-jobs`` jobs, as Kuscia's controllers make) leaves
for the next plan: each job once, however many events it had. Target:
``changes`` after one change under 5 ms and at least 50 x cheaper than the full list. Needs
``KGITOPS_TEST_KUBECONFIG`` (``../shared/tools/k8s/up`` prints it); the jobs are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.backends.k8s.objects import GROUP, VERSION  # noqa: E402
from reconciler.backends.kubernetes import KubernetesBackend, load_api_client  # noqa: E402

NAMESPACE = "cross-domain"
PLURAL = "kusciajobs"
KIND = "KusciaJob"


def job_body(name: str, label: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "labels": {"bench": label}},
        "spec": {
            "initiator": "alice",
            "maxParallelism": 1,
            "tasks": [
                {
                    "alias": "psi",
                    "taskID": f"{name}-psi",
                    "appImage": "secretflow-image",
                    "taskInputConfig": "{}",
                    "parties": [{"domainID": "alice"}, {"domainID": "bob"}],
                }
            ],
        },
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2000, help="KusciaJobs to create (default 2000)")
    ap.add_argument("--rounds", type=int, default=5, help="measurements of each kind (default 5)")
    ap.add_argument("--storm", type=int, default=1000, help="status writes in the burst (default 1000)")
    ap.add_argument("--storm-jobs", type=int, default=100, help="jobs the burst writes to (default 100)")
    args = ap.parse_args()
    kubeconfig = os.environ.get("KGITOPS_TEST_KUBECONFIG", "")
    if not kubeconfig:
        raise SystemExit("set KGITOPS_TEST_KUBECONFIG (../shared/tools/k8s/up prints it)")
    label = f"feed-{uuid.uuid4().hex[:8]}"
    sel = {"bench": label}
    admin = KubernetesBackend(load_api_client(kubeconfig), NAMESPACE)
    backend = KubernetesBackend(load_api_client(kubeconfig), NAMESPACE)
    names = [f"{label}-{i:05d}" for i in range(args.jobs)]
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            create = admin.custom.create_namespaced_custom_object
            list(pool.map(lambda n: create(GROUP, VERSION, NAMESPACE, PLURAL, job_body(n, label)), names))
        print(f"created {args.jobs} KusciaJobs in {time.perf_counter() - t0:.1f} s")

        full: list[float] = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            assert len(backend.list(KIND, labels=sel)) == args.jobs
            full.append(time.perf_counter() - t)

        t = time.perf_counter()
        first = backend.changes(KIND, "", sel)
        first_call = time.perf_counter() - t
        assert first.complete and len(first.changed) == args.jobs
        t = time.perf_counter()
        token = backend.changes(KIND, first.version, sel).version  # lists again, starts the watch
        second_call = time.perf_counter() - t
        (feed,) = backend.feeds.informers(KIND)

        after_one: list[float] = []
        arrival: list[float] = []
        for i in range(args.rounds):
            name = names[i * 7 % args.jobs]
            doc = admin.custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
            doc["status"] = {"phase": "Running" if i % 2 == 0 else "Pending"}
            t_write = time.perf_counter()
            admin.custom.replace_namespaced_custom_object_status(GROUP, VERSION, NAMESPACE, PLURAL, name, doc)
            while feed.version == token:
                if time.perf_counter() - t_write > 30:
                    raise SystemExit("the change did not arrive through the watch within 30 s")
                time.sleep(0.001)
            arrival.append(time.perf_counter() - t_write)
            t = time.perf_counter()
            found = backend.changes(KIND, token, sel)
            after_one.append(time.perf_counter() - t)
            assert not found.complete and [o.name for o in found.changed] == [name], found
            token = found.version

        # A burst of status writes (Kuscia's controllers): each is a MODIFIED event; the feed keeps one state
        # per object, so the next ``changes`` returns each job once.
        touched = names[: min(args.storm_jobs, args.jobs)]
        writes = [(touched[i % len(touched)], i) for i in range(args.storm)]

        def write_status(item: tuple[str, int]) -> int:
            name, i = item
            doc = admin.custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
            doc["status"] = {"phase": "Running", "message": f"write {i}"}
            answer = admin.custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, NAMESPACE, PLURAL, name, doc
            )
            return int(answer["metadata"]["resourceVersion"])

        t_storm = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            last = max(pool.map(write_status, writes))
        watch = feed.watch
        assert watch is not None
        while int(watch.resource_version or 0) < last:
            if time.perf_counter() - t_storm > 120:
                raise SystemExit("the burst did not arrive through the watch within 120 s")
            time.sleep(0.005)
        storm_arrived = time.perf_counter() - t_storm
        t = time.perf_counter()
        burst = backend.changes(KIND, token, sel)
        burst_call = time.perf_counter() - t
        assert not burst.complete and len(burst.changed) <= len(touched)

        full_ms, one_ms = statistics.median(full), statistics.median(after_one)
        print(f"N = {args.jobs} jobs, median of {args.rounds}")
        print(f"  full list (KubernetesBackend.list)            {ms(full_ms)}")
        print(f"  changes, first call (chunked list)            {ms(first_call)}")
        print(f"  changes, second call (list + start watch)     {ms(second_call)}")
        print(f"  changes after one out-of-band change          {ms(one_ms)}")
        print(f"  the change arriving through the watch         {ms(statistics.median(arrival))}")
        print(
            f"  {args.storm} status writes on {len(touched)} jobs: written and through the watch in "
            f"{storm_arrived:.2f} s; the next changes returns {len(burst.changed)} jobs in {ms(burst_call)}"
        )
        ratio = full_ms / one_ms if one_ms else float("inf")
        ok = one_ms < 0.005 and ratio >= 50
        verdict = "met" if ok else "NOT met"
        print(f"  full list / changes: {ratio:.0f} x   target: < 5 ms and >= 50 x   {verdict}")
    finally:
        backend.close()
        admin.custom.delete_collection_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, label_selector=f"bench={label}"
        )
        admin.close()


if __name__ == "__main__":
    main()
