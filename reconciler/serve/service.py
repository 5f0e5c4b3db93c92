"""KusciaAPI's job service (kuscia-semantics.md §9) over any Backend: each call checked, answered with
Kuscia's error codes and texts, and run on the backend's threads (``serve/backend_threads.py``: writes on
one writer thread, reads on reader threads, so reads never queue behind writes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    NotFound,
    PhaseError,
    admit_new,
    check_kusciaapi_stage,
)
from reconciler.backends.pages import MAX_LIMIT, InvalidMarker, PageRequest
from reconciler.kuscia import codes as ec
from reconciler.kuscia.labels import ANNOTATION_INTERCONN_SELF_PARTIES
from reconciler.kusciaapi.errors import APIError, ok
from reconciler.kusciaapi.mapping import check_job_id, job_from_create_request
from reconciler.kusciaapi.status import job_status_detail, query_data
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.serve.backend_threads import BackendThreads

T = TypeVar("T")
APPROVE_RESULTS = {1: True, 2: False, "APPROVE_RESULT_ACCEPT": True, "APPROVE_RESULT_REJECT": False}
# op -> (stage, error code, code when the phase forbids it, code when writing the command fails)
STAGE_OPS: dict[str, tuple[Stage, int, int, int]] = {
    "stop": (Stage.STOP, ec.STOP_JOB, ec.STOP_JOB, ec.STOP_JOB),
    "suspend": (Stage.SUSPEND, ec.SUSPEND_JOB, ec.SUSPEND_NOT_RUNNING_JOB, ec.SUSPEND_JOB),
    # Kuscia reports a failed restart write with the suspend code (sic, §9)
    "restart": (Stage.RESTART, ec.RESTART_JOB, ec.RESTART_NOT_SUSPENDED_OR_FAILED_JOB, ec.SUSPEND_JOB),
    "cancel": (Stage.CANCEL, ec.CANCEL_JOB, ec.CANCEL_JOB, ec.CANCEL_JOB),
}
EXTENSION_OPS = ("list",)  # kgitops' own, beside Kuscia's (reconciler.kusciaapi.messages.OPS)
MAX_WATCH_TIMEOUT = 2**31 - 1


class JobService:
    """KusciaAPI's job calls over backends made by ``backend_factory``.

    Writes (and the embedded engine's passes) run on one writer thread with its own backend; reads (query,
    batchQuery, list, watch) on ``readers`` threads, each with a backend of its own, so they never queue
    behind a write or an engine pass (the embedded engine's SQLite store is in WAL mode: readers see the
    last committed state while a write is under way)."""

    def __init__(
        self,
        backend_factory: Callable[[], Backend],
        namespace: str,
        domain: str = "",
        readers: int = 4,
        rest_seconds: float | None = None,
    ) -> None:
        """``rest_seconds``: the embedded engine's longest rest between two steps when nothing happens, so
        how late it sees another process's writes (default: the backend's ``idle_pause`` of its
        ``poll_interval``); writes through this service, process exits and deadlines end a rest at once
        (``serve/driving.py``)."""
        self.namespace = namespace
        self.domain = domain
        self._threads = BackendThreads(backend_factory, readers, rest_seconds)

    def run(self, fn: Callable[[Backend], T]) -> T:
        """``fn`` on the writer thread, with its backend; the engine's rest there ends first."""
        return self._threads.run(fn)

    def read(self, fn: Callable[[Backend], T]) -> T:
        """``fn`` on a reader thread, with that thread's backend (opened on first use)."""
        return self._threads.read(fn)

    def close(self) -> None:
        """Stop driving the engine and close every backend (``BackendThreads.close``)."""
        self._threads.close()

    # -- helpers (on the worker thread) -------------------------------------------------------------------
    def _ref(self, job_id: str) -> ObjectRef:
        return ObjectRef(KUSCIA_JOB, self.namespace, job_id)

    @staticmethod
    def _tasks_of(backend: Backend, job: Resource) -> dict[str, Resource]:
        tasks: dict[str, Resource] = {}
        for task_id in job.status.get("taskStatus") or {}:
            task = backend.get(ObjectRef(KUSCIA_TASK, job.namespace, str(task_id)))
            if task is not None:
                tasks[task.name] = task
        return tasks

    def visible(self, job: Resource) -> bool:
        """Whether this KusciaAPI may see the job: always as the master; as a domain's KusciaAPI only when
        the domain is the job's initiator or a party of one of its tasks (Kuscia's ``authHandlerJobRetrieve``,
        ``pkg/kusciaapi/service/job_service.go``; kuscia#603)."""
        if not self.domain:
            return True
        if str(job.spec.get("initiator") or "") == self.domain:
            return True
        return any(
            str(p.get("domainID") or "") == self.domain
            for t in job.spec.get("tasks") or ()
            for p in t.get("parties") or ()
        )

    def _job_or_fail(self, backend: Backend, job_id: str, code: int, change: str = "") -> Resource:
        """The job, or the error Kuscia answers: not found (``code``); for a job of other domains, ``code``
        on a read (query, batchQuery) and AuthFailed (11102) on a ``change`` (stop, delete, ...), with
        Kuscia's text ``domain's KusciaAPI could only <verb> the job that the domain as a participant in
        the job``."""
        job = backend.get(self._ref(job_id))
        if job is None:
            raise APIError(code, f'kusciajobs.kuscia.secretflow "{job_id}" not found')
        if not self.visible(job):
            verb = change or "retrieve"
            message = (
                f"domain's KusciaAPI could only {verb} the job that the domain as a participant in the job"
            )
            raise APIError(ec.AUTH_FAILED if change else code, message)
        return job

    # -- ops ---------------------------------------------------------------------------------------
    def handle(self, op: str, req: Mapping[str, Any]) -> dict[str, Any]:
        """Answer the request ``req`` (a dict in proto field names, ``reconciler.kusciaapi.protojson``) to
        ``op`` (the HTTP path after ``/api/v1/job/``); the caller is the master, as every caller of Kuscia's
        external port is (``GrpcServerMasterRoleInterceptor``, ``pkg/web/interceptor``). Raises APIError."""
        if op == "create":
            return self.create(req)
        if op == "query":
            return self.query(req)
        if op == "status/batchQuery":
            return self.batch_query(req)
        if op == "delete":
            return self.delete(req)
        if op == "approve":
            return self.approve(req)
        if op == "list":
            return self.list_jobs(req)
        if op in STAGE_OPS:
            return self.stage(op, req)
        raise APIError(ec.REQUEST_VALIDATE, f"unknown operation {op}", http_status=404)

    def create(self, req: Mapping[str, Any]) -> dict[str, Any]:
        job = job_from_create_request(req, self.namespace, self.domain)

        def work(b: Backend) -> None:
            admit_new(b, job)  # validate's checks; Kuscia's API server would refuse the create: 11201
            b.create(job)

        try:
            self.run(work)
        except AlreadyExists as exc:
            raise APIError(ec.CREATE_JOB, str(exc)) from None
        except BackendError as exc:
            raise APIError(ec.CREATE_JOB, str(exc)) from None
        return ok({"job_id": job.name})

    def query(self, req: Mapping[str, Any]) -> dict[str, Any]:
        job_id = check_job_id(req.get("job_id"))

        def work(b: Backend) -> dict[str, Any]:
            job = self._job_or_fail(b, job_id, ec.QUERY_JOB)
            return query_data(job, self._tasks_of(b, job))

        return ok(self._guard(work, ec.QUERY_JOB, read=True))

    def batch_query(self, req: Mapping[str, Any]) -> dict[str, Any]:
        ids = req.get("job_ids") or []
        if not ids:
            raise APIError(ec.REQUEST_VALIDATE, "job ids can not be empty")
        if any(not i for i in ids):
            raise APIError(ec.REQUEST_VALIDATE, "job id can not be empty")

        def work(b: Backend) -> list[dict[str, Any]]:
            # One get per job and per created task: cheaper on every backend than listing whole collections.
            jobs = [self._job_or_fail(b, str(i), ec.QUERY_JOB_STATUS) for i in ids]
            return [{"job_id": j.name, "status": job_status_detail(j, self._tasks_of(b, j))} for j in jobs]

        return ok({"jobs": self._guard(work, ec.QUERY_JOB_STATUS, read=True)})

    def delete(self, req: Mapping[str, Any]) -> dict[str, Any]:
        job_id = check_job_id(req.get("job_id"))

        def work(b: Backend) -> None:
            job = self._job_or_fail(b, job_id, ec.DELETE_JOB, change="delete")
            b.delete(job.ref)

        self._guard(work, ec.DELETE_JOB)
        return ok({"job_id": job_id})

    def stage(self, op: str, req: Mapping[str, Any]) -> dict[str, Any]:
        stage, code, phase_code, write_code = STAGE_OPS[op]
        job_id = check_job_id(req.get("job_id"))

        def work(b: Backend) -> None:
            job = self._job_or_fail(b, job_id, code, change="retrieve" if op == "stop" else op)
            check_kusciaapi_stage(job_id, stage, job.status)
            trigger = self.domain or str(job.spec.get("initiator") or "")
            try:
                b.stage(job.ref, stage, domain=trigger, reason=str(req.get("reason") or ""))
            except PhaseError:
                raise
            except BackendError as exc:
                raise APIError(write_code, str(exc)) from None

        try:
            self._guard(work, code)
        except PhaseError as exc:
            if op != "stop":
                raise APIError(phase_code, str(exc)) from None
            # Kuscia makes no phase check on stop: stopping a finished job answers success and changes
            # nothing (the CLI's ``job stop`` keeps its stricter check; docs/kusciaapi.md).
        return ok({"job_id": job_id})

    def approve(self, req: Mapping[str, Any]) -> dict[str, Any]:
        job_id = check_job_id(req.get("job_id"))
        result = req.get("result")
        if result not in APPROVE_RESULTS:
            raise APIError(ec.REQUEST_VALIDATE, "request result must be legal")
        accept = APPROVE_RESULTS[result]
        reason = str(req.get("reason") or "")

        def work(b: Backend) -> None:
            job = self._job_or_fail(b, job_id, ec.APPROVE_JOB, change="approve")
            if self.domain:  # a domain's KusciaAPI speaks for its own domain only
                domains = [self.domain]
            else:  # the master speaks for every party it hosts
                annotated = job.annotations.get(ANNOTATION_INTERCONN_SELF_PARTIES, "")
                domains = [d for d in annotated.split("_") if d] or sorted(
                    {
                        str(p.get("domainID"))
                        for t in job.spec.get("tasks") or ()
                        for p in t.get("parties") or ()
                    }
                )
            for domain in domains:
                try:
                    b.approve(job.ref, domain, accept, reason)
                except PhaseError:
                    # Kuscia records the answer on any job and answers success; a finished job (Succeeded,
                    # Cancelled, ApprovalReject, ...) is not changed by it, so neither do we change it.
                    continue

        self._guard(work, ec.APPROVE_JOB)
        return ok({"job_id": job_id})

    def list_jobs(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """kgitops extension (not in Kuscia): the jobs with their query data, for the kusciaapi backend.

        With ``page_size`` (1-1000) one page in name order, read by the backend's own paging
        (``Backend.list_jobs``), and ``next_page_token`` for the next ("" after the last); pass it back as
        ``page_token``. A page holds fewer jobs than asked when some are another domain's (``visible``), and
        may even be empty with a token. Without ``page_size``: every job at once."""
        size = req.get("page_size")
        token = req.get("page_token") or ""
        if size in (None, 0, "") and not token:

            def everything(b: Backend) -> list[dict[str, Any]]:
                jobs = [j for j in b.list(KUSCIA_JOB, self.namespace) if self.visible(j)]
                return [query_data(j, self._tasks_of(b, j)) for j in jobs]

            return ok({"jobs": self._guard(everything, ec.QUERY_JOB, read=True)})
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_LIMIT:
            raise APIError(ec.REQUEST_VALIDATE, f"page size must be in [1,{MAX_LIMIT}]")
        if not isinstance(token, str):
            raise APIError(ec.REQUEST_VALIDATE, "page token must be a string")

        def work(b: Backend) -> tuple[list[dict[str, Any]], str]:
            try:
                page = b.list_jobs(PageRequest(self.namespace, size, token))
            except InvalidMarker:
                raise APIError(
                    ec.REQUEST_VALIDATE, "page token is not valid: pass the next_page_token of the last page"
                ) from None
            jobs = [j for j in page.items if self.visible(j)]
            return [query_data(j, self._tasks_of(b, j)) for j in jobs], page.next_marker or ""

        jobs, next_token = self._guard(work, ec.QUERY_JOB, read=True)
        return ok({"jobs": jobs, "next_page_token": next_token})

    def snapshot(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Watch support: job name -> (fingerprint, JobStatus), of the jobs this KusciaAPI may see (Kuscia's
        ``authHandlerJobWatch`` skips the others' events)."""

        def work(b: Backend) -> dict[str, tuple[str, dict[str, Any]]]:
            out = {}
            for job in b.list(KUSCIA_JOB, self.namespace):
                if not self.visible(job):
                    continue
                detail = job_status_detail(job, self._tasks_of(b, job))
                obj = {"job_id": job.name, "status": detail}
                out[job.name] = (repr(obj), obj)
            return out

        return self._guard(work, ec.QUERY_JOB_STATUS, read=True)

    def watch(
        self, req: Mapping[str, Any], heartbeat_seconds: float, poll_seconds: float, closing: threading.Event
    ) -> Iterator[dict[str, Any]]:
        """WatchJob: the events (``{"type": "ADDED"|"MODIFIED"|"DELETED"|"HEARTBEAT", "object": JobStatus}``)
        until ``timeout_seconds`` (0: no limit) pass or ``closing`` is set; the visible jobs first, as ADDED.
        Checks the request and takes the first snapshot before returning (APIError): a refusal is a reply."""
        try:
            timeout = int(req.get("timeout_seconds") or 0)
        except (TypeError, ValueError):
            timeout = -1
        if not 0 <= timeout <= MAX_WATCH_TIMEOUT:
            raise APIError(ec.REQUEST_VALIDATE, "timeout seconds must be in [0,2^31-1]")
        known = self.snapshot()
        return self._events(
            known, time.monotonic() + (timeout or MAX_WATCH_TIMEOUT), heartbeat_seconds, poll_seconds, closing
        )

    def _events(
        self,
        known: dict[str, tuple[str, dict[str, Any]]],
        end: float,
        heartbeat_seconds: float,
        poll_seconds: float,
        closing: threading.Event,
    ) -> Iterator[dict[str, Any]]:
        for _fp, obj in known.values():
            yield {"type": "ADDED", "object": obj}
        last_sent = time.monotonic()
        while time.monotonic() < end and not closing.is_set():
            closing.wait(min(poll_seconds, max(0.0, end - time.monotonic())))
            current = self.snapshot()
            events = []
            for name, (fp, obj) in current.items():
                if name not in known:
                    events.append({"type": "ADDED", "object": obj})
                elif known[name][0] != fp:
                    events.append({"type": "MODIFIED", "object": obj})
            for name in known.keys() - current.keys():
                events.append({"type": "DELETED", "object": known[name][1]})
            known = current
            yield from events
            if events:
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= heartbeat_seconds:
                yield {"type": "HEARTBEAT", "object": {}}
                last_sent = time.monotonic()

    def _guard(self, work: Callable[[Backend], T], code: int, read: bool = False) -> T:
        try:
            return self.read(work) if read else self.run(work)
        except (APIError, PhaseError):
            raise
        except NotFound as exc:
            raise APIError(code, str(exc)) from None
        except BackendError as exc:
            raise APIError(code, str(exc)) from None
