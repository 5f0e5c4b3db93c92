"""The ``kusciaapi`` backend: drive a KusciaAPI endpoint (a Kuscia node, or ``kgitops serve``) over HTTPS
with a client certificate and the ``Token`` header.

KusciaAPI only knows jobs, so: KusciaTasks are read from the jobs' statuses, AppImages cannot be managed
(NotSupported), labels travel as custom fields, and the inventory of what a source created is kept in a local
file (under the state directory). The token is held privately and scrubbed from every message.

This module holds the backend's construction and its writes; its reads are ``kusciaapi_reads``, its calls
and the watch stream ``kusciaapi_calls``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.backends.base import (
    AlreadyExists,
    BackendError,
    NotFound,
    NotSupported,
    PhaseError,
    parse_stage,
)
from reconciler.backends.kusciaapi_calls import PHASE_CODES, KusciaAPIError
from reconciler.backends.kusciaapi_grpc import GrpcTransport
from reconciler.backends.kusciaapi_http import HttpTransport
from reconciler.backends.kusciaapi_reads import KusciaAPIReads
from reconciler.backends.kusciaapi_records import LocalRecords
from reconciler.config import Config
from reconciler.kusciaapi.mapping import create_request, dropped_fields
from reconciler.kusciaapi.status import job_from_query
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource, Stage
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK

__all__ = ["PHASE_CODES", "SOURCE_HEADER", "TRANSPORTS", "KusciaAPIBackend", "KusciaAPIError"]

log = logging.getLogger("kgitops.kusciaapi")
SOURCE_HEADER = "Kuscia-Source"
TRANSPORTS = ("http", "grpc")


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


class KusciaAPIBackend(KusciaAPIReads):
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
        self._grpc = None
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

    # -- objects -----------------------------------------------------------------------------------
    def _jobs_only(self, kind: str, what: str) -> None:
        if kind == APP_IMAGE:
            raise NotSupported(
                f"KusciaAPI cannot {what} {APP_IMAGE}s; "
                "register them on the Kuscia node itself (kubectl apply)"
            )
        if kind != KUSCIA_JOB:
            raise NotSupported(
                f"KusciaAPI cannot {what} {kind} objects; Kuscia creates {KUSCIA_TASK}s from jobs"
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

    # -- inventory (local files) -------------------------------------------------------------------
    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self.records.get_inventory(source_id)

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        self.records.set_inventory(source_id, refs)

    def close(self) -> None:
        if self._grpc is not None:
            self._grpc.close()
        self._http.close()
