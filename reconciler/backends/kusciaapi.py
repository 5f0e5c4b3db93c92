"""The ``kusciaapi`` backend: drive a KusciaAPI endpoint (a Kuscia node, or ``kgitops serve``) over HTTPS
with a client certificate and the ``Token`` header.

KusciaAPI only knows jobs, so: KusciaTasks are read from the jobs' statuses, AppImages cannot be managed
(NotSupported), labels travel as custom fields, and the inventory of what a source created is kept in a local
file (under the state directory). The token is held privately and scrubbed from every message.
"""

from __future__ import annotations

import copy
import http.client
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.backends import kusciaapi_pages
from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    NotFound,
    NotSupported,
    PhaseError,
    parse_stage,
)
from reconciler.backends.kusciaapi_grpc import GrpcTransport
from reconciler.backends.kusciaapi_http import HttpTransport
from reconciler.backends.kusciaapi_records import LocalRecords
from reconciler.backends.pages import InvalidMarker, Page, PageRequest, TaskPageRequest, marker_name, page_of
from reconciler.config import Config
from reconciler.kuscia import codes as ec
from reconciler.kusciaapi.events import event_type_name, json_stream
from reconciler.kusciaapi.mapping import create_request, dropped_fields, field_to_label
from reconciler.kusciaapi.status import job_from_query, tasks_from_detail
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource, Stage
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK

log = logging.getLogger("kgitops.kusciaapi")
SOURCE_HEADER = "Kuscia-Source"
TRANSPORTS = ("http", "grpc")
PHASE_CODES = {ec.SUSPEND_NOT_RUNNING_JOB, ec.RESTART_NOT_SUSPENDED_OR_FAILED_JOB}


def _task_outline(spec: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """What identifies a job's tasks across KusciaAPI's round trip: alias, image and party domains."""
    return [
        (
            str(t.get("alias") or ""),
            str(t.get("appImage") or ""),
            tuple(str(p.get("domainID") or "") for p in t.get("parties") or ()),
        )
        for t in spec.get("tasks") or ()
    ]


class KusciaAPIError(BackendError):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class KusciaAPIBackend(Backend):
    name = "kusciaapi"

    def __init__(
        self,
        endpoint: str,
        token: str = "",
        cert: str = "",
        key: str = "",
        ca: str = "",
        domain: str = "",
        namespace: str = DEFAULT_NAMESPACE,
        state_dir: str | Path = ".kgitops",
        timeout: float = 30.0,
        transport: str = "http",
    ) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise BackendError(f"kusciaapi endpoint `{endpoint}` must look like https://host:8082")
        self.endpoint = f"{url.scheme}://{url.netloc}"
        self.domain = domain
        self.namespace = namespace
        self.timeout = timeout
        self.records = LocalRecords(state_dir, self.endpoint)
        self._http = HttpTransport(self.endpoint, token, cert, key, ca, domain, timeout)
        https, host, port = self._http.https, self._http.host, self._http.port
        if transport not in TRANSPORTS:
            raise BackendError(
                f"backend.kusciaapi.transport is `{transport}`; use one of {', '.join(TRANSPORTS)}"
            )
        self._grpc: GrpcTransport | None = None
        if transport == "grpc":
            self._grpc = GrpcTransport(host, port, https, cert, key, ca, token, timeout)

    def __repr__(self) -> str:
        return f"KusciaAPIBackend({self.endpoint!r}, token=<redacted>)"

    @classmethod
    def from_config(cls, config: Config) -> KusciaAPIBackend:
        k = config.backend.kusciaapi
        if not k.endpoint:
            raise BackendError("backend.kusciaapi.endpoint is not set; e.g. endpoint: https://localhost:8082")
        token = ""
        if k.token_file:
            path = config.resolve(k.token_file)
            try:
                token = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise BackendError(f"{path}: cannot read the KusciaAPI token file ({exc.strerror})") from None

        def opt(p: str) -> str:
            return str(config.resolve(p)) if p else ""

        return cls(
            k.endpoint,
            token,
            opt(k.cert),
            opt(k.key),
            opt(k.ca),
            k.domain,
            config.backend.kubernetes.namespace or DEFAULT_NAMESPACE,
            config.state_dir,
            k.timeout,
            k.transport,
        )

    # -- transport -----------------------------------------------------------------------------------------
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

    # -- objects -----------------------------------------------------------------------------------
    def _jobs_only(self, kind: str, what: str) -> None:
        if kind == APP_IMAGE:
            raise NotSupported(
                f"KusciaAPI cannot {what} AppImages; register them on the Kuscia node itself (kubectl apply)"
            )
        if kind != KUSCIA_JOB:
            raise NotSupported(
                f"KusciaAPI cannot {what} {kind} objects; Kuscia creates KusciaTasks from jobs"
            )

    def _create(self, obj: Resource) -> Resource:
        self._jobs_only(obj.kind, "create")
        request = create_request(obj)
        try:
            self.call("create", request)
        except KusciaAPIError as exc:
            if "already exists" not in str(exc):
                raise
            adopted = self._adopt(obj)
            if adopted is None:
                raise AlreadyExists(f"{obj.ref} already exists") from None
            return adopted
        data = self._query(obj.name)
        if data is None:
            raise BackendError(f"KusciaAPI accepted {obj.ref} but does not show it")
        self._check_fields_kept(obj.name, request, data)
        live = self._job(data)
        # Remember what we applied: KusciaAPI rewrites the spec and keeps no annotations.
        self.records.set_applied(
            obj.name,
            live.creation_timestamp,
            copy.deepcopy(obj.spec),
            dict(obj.labels),
            dict(obj.annotations),
        )
        return self._with_applied(live)

    def _adopt(self, obj: Resource) -> Resource | None:
        """The job already on the node, taken as ours when it carries every label ``obj`` has (sync's
        ownership marks travel as custom fields) and the same initiator and tasks: a sync from a fresh
        state directory then adopts what an earlier one created instead of failing. None when it differs."""
        data = self._query(obj.name)
        if data is None or not obj.labels:
            return None
        live = job_from_query(data, self.namespace, self._labels(data.get("custom_fields")))
        if any(live.labels.get(k) != v for k, v in obj.labels.items()):
            return None
        if _task_outline(live.spec) != _task_outline(obj.spec) or live.spec.get("initiator") != obj.spec.get(
            "initiator"
        ):
            return None
        log.info("adopting %s: it already exists on %s with this source's marks", obj.ref, self.endpoint)
        self.records.set_applied(
            obj.name,
            live.creation_timestamp,
            copy.deepcopy(obj.spec),
            dict(obj.labels),
            dict(obj.annotations),
        )
        return self._with_applied(live)

    def _check_fields_kept(self, job_id: str, request: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        """Warn when the node dropped fields the job uses: a Kuscia older than the current protocol (e.g. the
        one the ``kuscia`` 0.0.3b0 package describes) ignores schedule_config and bandwidth_limits silently,
        and tolerable with them (QueryJob never returns tolerable, so it cannot be checked by itself)."""
        dropped = dropped_fields(request, data)
        if dropped:
            log.warning(
                "KusciaAPI at %s created job %s without %s: its Kuscia is too old for these fields and "
                "ignored them; upgrade Kuscia, or remove them from the job",
                self.endpoint,
                job_id,
                ", ".join(dropped),
            )

    def _update(self, obj: Resource) -> Resource:
        self._jobs_only(obj.kind, "update")
        raise NotSupported("KusciaAPI cannot change a job once created; delete it and create it again")

    def _labels(self, fields: Mapping[str, Any] | None) -> dict[str, str]:
        return {field_to_label(str(k)): str(v) for k, v in (fields or {}).items()}

    def _query(self, job_id: str) -> dict[str, Any] | None:
        try:
            return self.call("query", {"job_id": job_id})
        except KusciaAPIError as exc:
            if exc.code in (ec.QUERY_JOB, ec.REQUEST_VALIDATE) and "not found" in str(exc):
                return None
            raise

    def get(self, ref: ObjectRef) -> Resource | None:
        if ref.kind == KUSCIA_TASK:
            return next((t for t in self.list(KUSCIA_TASK, ref.namespace) if t.name == ref.name), None)
        if ref.kind != KUSCIA_JOB:
            return None
        data = self._query(ref.name)
        if data is None:
            return None
        return self._job(data)

    def _job(self, data: Mapping[str, Any]) -> Resource:
        return self._with_applied(
            job_from_query(data, self.namespace, self._labels(data.get("custom_fields")))
        )

    def _with_applied(self, job: Resource) -> Resource:
        """The live job as kgitops applied it: its spec, labels and annotations, with KusciaAPI's status."""
        applied = self.records.get_applied(job.name, job.creation_timestamp)
        if applied is not None:
            job.spec = dict(applied.get("spec") or job.spec)
            job.labels = dict(applied.get("labels") or {})
            job.annotations = dict(applied.get("annotations") or {})
        return job

    def _all_job_data(self) -> list[dict[str, Any]]:
        try:
            return [dict(d) for d in self.call("list", {}).get("jobs") or ()]
        except NotSupported:
            pass
        # A Kuscia node cannot list jobs: look at the ones kgitops created (its inventories, and the jobs
        # created here outside any sync, e.g. by `kgitops job create`).
        names = {r.name for r in self.records.all_inventoried() if r.kind == KUSCIA_JOB}
        names |= self.records.applied_job_ids()
        out = []
        for name in sorted(names):
            data = self._query(name)
            if data is not None:
                out.append(data)
        return out

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Resource]:
        if kind == APP_IMAGE:
            return []
        if kind not in (KUSCIA_JOB, KUSCIA_TASK):
            raise NotSupported(f"KusciaAPI has no {kind} objects")
        items: list[Resource] = []
        for data in self._all_job_data():
            job = self._job(data)
            if kind == KUSCIA_JOB:
                items.append(job)
            else:
                items.extend(tasks_from_detail(job.name, data.get("status") or {}, self.namespace))
        wanted = dict(labels or {})
        items = [r for r in items if all(r.labels.get(k) == v for k, v in wanted.items())]
        return sorted(items, key=lambda r: r.name)

    def list_jobs(self, page: PageRequest) -> Page:
        """A page from the server's paged list, or from the jobs kgitops knows (``kusciaapi_pages``)."""

        def list_call(size: int, token: str) -> tuple[list[dict[str, Any]], str]:
            try:
                data = self.call("list", {"page_size": size, "page_token": token})
            except KusciaAPIError as exc:
                if token and exc.code == ec.REQUEST_VALIDATE:
                    raise InvalidMarker(page.marker) from None
                raise
            return [dict(d) for d in data.get("jobs") or ()], str(data.get("next_page_token") or "")

        def known() -> set[str]:
            names = {r.name for r in self.records.all_inventoried() if r.kind == KUSCIA_JOB}
            return names | self.records.applied_job_ids()

        return kusciaapi_pages.job_page(page, list_call, known, self._query, self._job, self.endpoint)

    def list_tasks(self, page: TaskPageRequest) -> Page:
        """KusciaAPI has no query for tasks: they are read from the jobs' statuses (``list``), then paged
        (``pages.page_of``: name markers, a foreign one refused before any request)."""
        marker_name(page.marker)
        return page_of(self.list(KUSCIA_TASK, page.namespace), page)

    def delete(self, ref: ObjectRef) -> None:
        self._jobs_only(ref.kind, "delete")
        try:
            self.call("delete", {"job_id": ref.name})
        except KusciaAPIError as exc:
            if "not found" in str(exc):
                raise NotFound(f"{ref} not found") from None
            raise
        self.records.forget(ref.name)

    def _update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        """KusciaAPI cannot change a created job: new labels and annotations are kept by kgitops locally."""
        self._jobs_only(ref.kind, "update")
        job = self.get(ref)
        if job is None:
            raise NotFound(f"{ref} not found")

        def merge(current: Mapping[str, str], change: Mapping[str, str | None] | None) -> dict[str, str]:
            out = dict(current)
            for key, value in (change or {}).items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = value
            return out

        job.labels = merge(job.labels, labels)
        job.annotations = merge(job.annotations, annotations)
        self.records.set_applied(job.name, job.creation_timestamp, job.spec, job.labels, job.annotations)
        return job

    # -- commands ----------------------------------------------------------------------------------
    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        command = parse_stage(stage)
        if command is Stage.START:
            raise NotSupported("KusciaAPI has no Start command")
        source = domain or self.domain
        if not source:  # KusciaAPI wants to know who stops a job; speak for its initiator
            job = self.get(ref)
            source = str(job.spec.get("initiator") or "") if job is not None else ""
        try:
            self.call(command.value.lower(), {"job_id": ref.name, "reason": reason}, source)
        except KusciaAPIError as exc:
            if exc.code in PHASE_CODES:
                raise PhaseError(str(exc).split(": ", 1)[-1]) from None
            if "not found" in str(exc):
                raise NotFound(f"{ref} not found") from None
            raise

    def _approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        if self.domain and domain and domain != self.domain:
            raise BackendError(
                f"this KusciaAPI speaks for domain {self.domain}; {domain} must approve through its own node"
            )
        self.call("approve", {"job_id": ref.name, "result": 1 if accept else 2, "reason": reason})

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

    # -- inventory (local files) -------------------------------------------------------------------
    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self.records.get_inventory(source_id)

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        self.records.set_inventory(source_id, refs)

    def close(self) -> None:
        if self._grpc is not None:
            self._grpc.close()
        self._http.close()
