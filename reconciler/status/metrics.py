"""Prometheus metrics of the watcher, exposed with ``prometheus_client`` on a small HTTP server that also
answers ``/healthz``.

Metrics (names and labels are part of the interface; dashboards use them):

* ``kgitops_reconcile_duration_seconds`` histogram: seconds of one reconcile (source to status);
* ``kgitops_reconcile_stage_seconds{stage}`` histogram: seconds of each stage of a reconcile (``STAGES``);
* ``kgitops_objects{sync_state}`` gauge: managed objects by sync state;
* ``kgitops_objects_phase{phase}`` gauge: managed objects by live phase;
* ``kgitops_held_files`` gauge: source files held because they fail to load or validate;
* ``kgitops_prune_refused`` gauge: 1 when the last reconcile refused to prune anything;
* ``kgitops_errors_total{kind}`` counter: errors by kind;
* ``kgitops_webhook_deliveries_total{result}`` counter: push webhook deliveries by result (accepted,
  ignored, duplicate, unauthorized, too_large, bad_request; ``reconciler.webhooks``);
* ``kgitops_forge_posts_total{result}`` counter: commit status posts by result (posted, failed;
  ``reconciler.forge``);
* ``kgitops_leader`` gauge: 1 while this watcher may reconcile (a local watch, or the replica holding the
  Lease), 0 while it follows (leader election: ``reconciler.backends.k8s.lease``).

``/healthz`` answers 200 ``ok`` (a follower: ``ok: follower``), or 503 ``unhealthy`` after a failed reconcile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from reconciler.background_http import BackgroundHTTPServer

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# the stages of a reconcile (``kgitops watch``), in order: waiting for the writer lock, reading and validating
# the source (only when it changed), reading the live objects, the diff, applying the plan (approvals
# included), writing status back, logging and reporting the outcome (metrics, commit statuses)
STAGES = ("lock", "source", "live", "diff", "apply", "status", "report")

disable_created_metrics()  # no ``*_created`` series: kgitops's metrics are the ten above


class Metrics(Collector):
    """The watcher's metrics in their own registry (``registry``); the gauges are read at scrape time, so a
    scrape never sees half of an update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_sync_state: dict[str, int] = {}
        self.by_phase: dict[str, int] = {}
        self.healthy = True
        self.leader = True
        self.held_files = 0
        self.prune_refused = False
        self.registry = CollectorRegistry(auto_describe=True)
        self._duration = Histogram(
            "kgitops_reconcile_duration_seconds",
            "Time of one reconcile (source to status).",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._stages = Histogram(
            "kgitops_reconcile_stage_seconds",
            "Time of each stage of a reconcile.",
            ["stage"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter("kgitops_errors", "Errors by kind.", ["kind"], registry=self.registry)
        self._deliveries = Counter(
            "kgitops_webhook_deliveries", "Webhook deliveries by result.", ["result"], registry=self.registry
        )
        self._forge_posts = Counter(
            "kgitops_forge_posts",
            "Commit status posts to the forge by result.",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(self)

    def observe_reconcile(self, seconds: float, stages: dict[str, float] | None = None) -> None:
        """One reconcile of ``seconds``, and the seconds of each of its ``stages`` (``STAGES``)."""
        self._duration.observe(seconds)
        for stage, spent in (stages or {}).items():
            self._stages.labels(stage=stage).observe(spent)

    def set_objects(self, by_sync_state: dict[str, int], by_phase: dict[str, int]) -> None:
        with self._lock:
            self.by_sync_state = dict(by_sync_state)
            self.by_phase = dict(by_phase)

    def set_held(self, files: int, prune_refused: bool) -> None:
        with self._lock:
            self.held_files = files
            self.prune_refused = prune_refused

    def error(self, kind: str) -> None:
        self._errors.labels(kind=kind).inc()

    def delivery(self, result: str) -> None:
        self._deliveries.labels(result=result).inc()

    def forge_post(self, result: str) -> None:
        self._forge_posts.labels(result=result).inc()

    def collect(self) -> Iterator[Metric]:
        """The gauges (``prometheus_client``'s Collector interface)."""
        with self._lock:
            objects = GaugeMetricFamily(
                "kgitops_objects", "Managed objects by sync state.", labels=["sync_state"]
            )
            for k, v in sorted(self.by_sync_state.items()):
                objects.add_metric([k], v)
            phases = GaugeMetricFamily(
                "kgitops_objects_phase", "Managed objects by live phase.", labels=["phase"]
            )
            for k, v in sorted(self.by_phase.items()):
                phases.add_metric([k], v)
            held = GaugeMetricFamily(
                "kgitops_held_files",
                "Source files held: they fail to load or validate.",
                value=self.held_files,
            )
            refused = GaugeMetricFamily(
                "kgitops_prune_refused",
                "1 when the last reconcile refused to prune anything.",
                value=int(self.prune_refused),
            )
            leader = GaugeMetricFamily(
                "kgitops_leader",
                "1 while this watcher may reconcile (it leads), 0 while it follows.",
                value=int(self.leader),
            )
        yield from (objects, phases, held, refused, leader)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """(body, Content-Type) of a scrape, in the format the ``Accept`` header asks for (text by
        default)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


def parse_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(
            f"--metrics-addr `{addr}`: expected HOST:PORT, the port 0-65535, e.g. 127.0.0.1:9090"
        )
    return host or "127.0.0.1", int(port)


class MetricsServer(BackgroundHTTPServer):
    def __init__(self, metrics: Metrics, addr: str) -> None:
        host, port = parse_addr(addr)
        m = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/metrics":
                    body, ctype = m.exposition(self.headers.get("Accept") or "")
                    code = 200
                elif self.path == "/healthz":
                    code = 200 if m.healthy else 503
                    text = ("ok" if m.leader else "ok: follower") if m.healthy else "unhealthy"
                    body, ctype = f"{text}\n".encode(), "text/plain"
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        super().__init__((host, port), Handler, "kgitops-metrics")
