"""What a ``KusciaAPIBackend`` reads: jobs from QueryJob (with the spec, labels and annotations kgitops
applied, kept in ``kusciaapi_records``), KusciaTasks from the jobs' statuses, and pages of both
(``kusciaapi_pages``; a Kuscia node without a list call is read job by job).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.backends import kusciaapi_pages
from reconciler.backends.base import NotSupported
from reconciler.backends.kusciaapi_calls import KusciaAPICalls, KusciaAPIError
from reconciler.backends.kusciaapi_records import LocalRecords
from reconciler.backends.pages import InvalidMarker, Page, PageRequest, TaskPageRequest, marker_name, page_of
from reconciler.kuscia import codes as ec
from reconciler.kusciaapi.mapping import field_to_label
from reconciler.kusciaapi.status import job_from_query, tasks_from_detail
from reconciler.model import ObjectRef, Resource
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK


class KusciaAPIReads(KusciaAPICalls):
    """The reads of ``KusciaAPIBackend`` (which sets every attribute declared here)."""

    namespace: str
    records: LocalRecords

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
