"""Prometheus metrics of the watcher in the text exposition format, served with ``/healthz`` on a small
HTTP server (stdlib), so no client library is needed."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets = [0] * len(BUCKETS)
        self._count = 0
        self._sum = 0.0
        self.by_sync_state: dict[str, int] = {}
        self.by_phase: dict[str, int] = {}
        self.errors: Counter[str] = Counter()
        self.last_success = 0.0
        self.healthy = True
        self.held_files = 0
        self.prune_refused = False

    def observe_reconcile(self, seconds: float) -> None:
        with self._lock:
            self._count += 1
            self._sum += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1

    def set_objects(self, by_sync_state: dict[str, int], by_phase: dict[str, int]) -> None:
        with self._lock:
            self.by_sync_state = dict(by_sync_state)
            self.by_phase = dict(by_phase)

    def set_held(self, files: int, prune_refused: bool) -> None:
        with self._lock:
            self.held_files = files
            self.prune_refused = prune_refused

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def render(self) -> str:
        with self._lock:
            out = [
                "# HELP kgitops_reconcile_duration_seconds Time of one reconcile (source to status).",
                "# TYPE kgitops_reconcile_duration_seconds histogram",
            ]
            for bound, n in zip(BUCKETS, self._buckets, strict=True):
                out.append(f'kgitops_reconcile_duration_seconds_bucket{{le="{bound}"}} {n}')
            out.append(f'kgitops_reconcile_duration_seconds_bucket{{le="+Inf"}} {self._count}')
            out.append(f"kgitops_reconcile_duration_seconds_sum {self._sum:.6f}")
            out.append(f"kgitops_reconcile_duration_seconds_count {self._count}")
            out += ["# HELP kgitops_objects Managed objects by sync state.", "# TYPE kgitops_objects gauge"]
            out += [f'kgitops_objects{{sync_state="{k}"}} {v}' for k, v in sorted(self.by_sync_state.items())]
            out += [
                "# HELP kgitops_objects_phase Managed objects by live phase.",
                "# TYPE kgitops_objects_phase gauge",
            ]
            out += [f'kgitops_objects_phase{{phase="{k}"}} {v}' for k, v in sorted(self.by_phase.items())]
            out += [
                "# HELP kgitops_held_files Source files held: they fail to load or validate.",
                "# TYPE kgitops_held_files gauge",
                f"kgitops_held_files {self.held_files}",
                "# HELP kgitops_prune_refused 1 when the last reconcile refused to prune anything.",
                "# TYPE kgitops_prune_refused gauge",
                f"kgitops_prune_refused {int(self.prune_refused)}",
            ]
            out += ["# HELP kgitops_errors_total Errors by kind.", "# TYPE kgitops_errors_total counter"]
            out += [f'kgitops_errors_total{{kind="{k}"}} {v}' for k, v in sorted(self.errors.items())]
            return "\n".join(out) + "\n"


def parse_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"--metrics-addr `{addr}`: expected HOST:PORT, e.g. 127.0.0.1:9090")
    return host or "127.0.0.1", int(port)


class MetricsServer:
    def __init__(self, metrics: Metrics, addr: str) -> None:
        host, port = parse_addr(addr)
        m = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/metrics":
                    body, ctype, code = m.render().encode(), "text/plain; version=0.0.4", 200
                elif self.path == "/healthz":
                    code = 200 if m.healthy else 503
                    body, ctype = (b"ok\n" if m.healthy else b"unhealthy\n"), "text/plain"
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="kgitops-metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
