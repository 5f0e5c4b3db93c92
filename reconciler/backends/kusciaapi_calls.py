"""KusciaAPI's calls as a ``KusciaAPIBackend`` makes them: one request over HTTP or gRPC
(``kusciaapi_http``, ``kusciaapi_grpc``), its answer's status turned into ``KusciaAPIError`` (with
KusciaAPI's error code, the token scrubbed from the message), and the job watch stream.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.backends.base import Backend, BackendError
from reconciler.backends.kusciaapi_grpc import GrpcTransport
from reconciler.backends.kusciaapi_http import HttpTransport
from reconciler.kuscia import codes as ec
from reconciler.kusciaapi.events import event_type_name, json_stream

PHASE_CODES = {ec.SUSPEND_NOT_RUNNING_JOB, ec.RESTART_NOT_SUSPENDED_OR_FAILED_JOB}
"""KusciaAPI's codes for a stage command the job's phase does not allow (raised as ``PhaseError``)."""


class KusciaAPIError(BackendError):
    """A KusciaAPI call answered with an error: ``code`` is KusciaAPI's error code (``kuscia.codes``)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class KusciaAPICalls(Backend):
    """The calls of ``KusciaAPIBackend`` (which sets every attribute declared here)."""

    endpoint: str
    timeout: float
    _http: HttpTransport
    _grpc: GrpcTransport | None

    def _redact(self, text: str) -> str:
        return self._http.redact(text)

    def call(self, op: str, payload: Mapping[str, Any], source: str = "") -> dict[str, Any]:
        """One KusciaAPI call; returns ``data`` or raises (KusciaAPIError carries the status code)."""
        if self._grpc is not None:
            return self._data(op, 200, self._grpc.call(op, payload))
        status, doc = self._http.call(op, payload, source)
        return self._data(op, status, doc)

    def _data(self, op: str, status: int, doc: Mapping[str, Any]) -> dict[str, Any]:
        st = doc.get("status") or {}
        code = int(st.get("code") or 0)
        if status != 200 or code != 0:
            message = self._redact(str(st.get("message") or f"HTTP {status}"))
            raise KusciaAPIError(f"KusciaAPI {op} failed (code {code}): {message}", code)
        return dict(doc.get("data") or {})

    def watch_jobs(self, timeout_seconds: int = 0) -> Iterator[dict[str, Any]]:
        """KusciaAPI's watch: events ``{type: "ADDED"|"MODIFIED"|"DELETED"|"HEARTBEAT"|"ERROR", object:
        {job_id, status}}``, heartbeats included. Read as a Kuscia node writes the stream (back-to-back JSON
        objects, the type as a number and left out when ADDED, empty fields left out) and as ``kgitops
        serve`` does (one object a line, the type by name)."""
        if self._grpc is not None:
            yield from self._grpc.watch(timeout_seconds)
            return
        conn = self._http.connection(self.timeout + 15)
        try:
            conn.request(
                "POST",
                "/api/v1/job/watch",
                body=json.dumps({"timeout_seconds": timeout_seconds}),
                headers=self._http.headers(),
            )
            resp = conn.getresponse()
            if resp.status != 200:
                raise BackendError(f"KusciaAPI watch failed: HTTP {resp.status}")
            for event in json_stream(resp):
                if "object" not in event and "status" in event:  # the stream's error reply
                    st = event.get("status") or {}
                    raise KusciaAPIError(
                        self._redact(f"KusciaAPI watch failed: {st.get('message')}"),
                        int(st.get("code") or 0),
                    )
                yield {"type": event_type_name(event.get("type")), "object": event.get("object") or {}}
        except (http.client.HTTPException, OSError) as exc:
            raise BackendError(self._redact(f"KusciaAPI watch at {self.endpoint} broke off: {exc}")) from None
        finally:
            conn.close()
