"""The read side of the jobs API (``reconciler.sdk.jobs.Client`` builds on it): open a backend from a config,
show and list jobs and tasks (pages, filters), a job's task graph and its logs. Errors are ``ClientError``
subclasses (``reconciler.jobops``), messages meant for the user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Invalid,
    NotFound,
    NotSupported,
    PhaseError,
)
from reconciler.backends.pages import InvalidMarker, Page, PageRequest, TaskPageRequest
from reconciler.config import Config, load_config
from reconciler.jobops import (
    ClientError,
    InvalidArgument,
    InvalidValue,
    JobNotFound,
    TaskNotFound,
    normalise_metadata,
    parse_statuses,
    parse_user_time,
)
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.paging import DEFAULT_MAX_KEYS, check_max_keys, page_tasks, parse_task_states
from reconciler.views.summary import JobSummaryPage, job_summary

if TYPE_CHECKING:  # the full views and typed specs: loaded by the calls that build them (not `job list`)
    from reconciler.render.graph import Graph
    from reconciler.views import JobInfo, JobPage, TaskInfo, TaskPage

JOB = KUSCIA_JOB
TASK = KUSCIA_TASK


class JobReader:
    """The read side of ``reconciler.sdk.Client``: opening a backend, and showing, listing and following
    jobs and tasks. ``Client`` adds the commands that change them."""

    def __init__(
        self, backend: Backend, namespace: str = DEFAULT_NAMESPACE, tz: tzinfo | None = None
    ) -> None:
        self.backend = backend
        self.namespace = namespace or DEFAULT_NAMESPACE
        self.tz = tz  # for parsing user times without a zone; None: the machine's local time

    @classmethod
    def from_config(
        cls,
        config: Config | str | Path | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        readonly: bool = False,
    ) -> Self:
        """Open the backend a config names (a ``Config``, a path, or None for ./kgitops.yaml or defaults).

        ``readonly``: only look; the embedded engine then creates no state directory or store (a missing one
        reads as empty) and starts no driver, and writes raise ClientError."""
        from reconciler.backends.factory import open_backend

        cfg = config if isinstance(config, Config) else load_config(config)
        try:
            backend = open_backend(cfg, readonly=readonly)
        except BackendError as exc:
            raise ClientError(str(exc), exc.hint, exc.exit_code) from None
        except OSError as exc:  # e.g. a state directory that can not be created
            where = f" ({exc.filename})" if exc.filename else ""
            raise ClientError(
                f"cannot open the {cfg.backend.kind or 'local'} backend{where}: {exc.strerror or exc}"
            ) from None
        return cls(backend, namespace)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------------

    def _ref(self, kind: str, name: str) -> ObjectRef:
        if not name:
            raise InvalidArgument(f"a {'job' if kind == JOB else 'task'} name is required")
        return ObjectRef.of(kind, name, self.namespace)

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InvalidMarker as exc:
            raise InvalidValue(str(exc)) from None
        except NotSupported as exc:
            raise ClientError(f"{what}: {exc}") from None
        except PhaseError:
            raise
        except (NotFound, AlreadyExists, Invalid):
            raise
        except BackendError as exc:  # the backend's hint and exit code stand (a cluster error is 2)
            raise ClientError(f"{what}: {exc}", exc.hint, exc.exit_code) from None

    def _get_job(self, name: str) -> Resource:
        job = self._call(f"cannot read job {name}", self.backend.get, self._ref(JOB, name))
        if job is None:
            raise JobNotFound(name, self.namespace, self._job_names())
        return job  # type: ignore[no-any-return]

    def _job_names(self) -> list[str]:
        """For "did you mean": names alone (the embedded store reads them from its index)."""
        try:
            return self.backend.job_names(self.namespace)
        except BackendError:
            return []

    def _tasks_of(self, job: Resource) -> dict[str, Resource]:
        from reconciler.views import spec_of

        found: dict[str, Resource] = {}
        for t in spec_of(job).tasks:
            if t.task_id and t.task_id not in found:
                task = self._call(
                    f"cannot read task {t.task_id}", self.backend.get, self._ref(TASK, t.task_id)
                )
                if task is not None:
                    found[t.task_id] = task
        return found

    def show_job(self, name: str) -> JobInfo:
        """The job and every task of its spec: phases, parties, endpoints, times, why a task never ran."""
        from reconciler.views import job_info

        job = self._get_job(name)
        return job_info(job, self._tasks_of(job))

    def list_job(
        self,
        status: Iterable[str] | str | None = None,
        labels: Mapping[str, str] | None = None,
        since: datetime | str | int | float | None = None,
        started_after: datetime | str | int | float | None = None,
        initiator: str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        marker: str | None = None,
    ) -> JobPage:
        """One page of jobs in name order, filtered.

        ``status``: phases (any of them); ``labels``: all must match exactly; ``since``: updated after this
        time; ``started_after``: started after it (``"YYYY-MM-DD HH:MM:SS"`` local time, ISO 8601 or a Unix
        timestamp); ``initiator``: the initiating domain. ``marker`` is the ``next_marker`` of the previous
        page; a page continues after the marker's job even if that job was deleted meanwhile.
        """
        from reconciler.views import JobPage, job_info

        page = self._job_page(status, labels, since, started_after, initiator, max_keys, marker)
        return JobPage([job_info(j) for j in page.items], page.next_marker)

    def list_job_summary(
        self,
        status: Iterable[str] | str | None = None,
        labels: Mapping[str, str] | None = None,
        since: datetime | str | int | float | None = None,
        started_after: datetime | str | int | float | None = None,
        initiator: str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        marker: str | None = None,
    ) -> JobSummaryPage:
        """``list_job``'s page (the same jobs, filters and ``next_marker``) as table rows (``JobSummary``:
        counts of tasks instead of their views), for ``kgitops job list``'s tables."""
        page = self._job_page(status, labels, since, started_after, initiator, max_keys, marker)
        return JobSummaryPage([job_summary(j) for j in page.items], page.next_marker)

    def _job_page(
        self,
        status: Iterable[str] | str | None,
        labels: Mapping[str, str] | None,
        since: datetime | str | int | float | None,
        started_after: datetime | str | int | float | None,
        initiator: str | None,
        max_keys: int,
        marker: str | None,
    ) -> Page:
        check_max_keys(max_keys)
        wanted = normalise_metadata(labels or {}, "label", allow_remove=False)
        request = PageRequest(
            namespace=self.namespace,
            limit=max_keys,
            marker=marker or "",
            labels={k: v or "" for k, v in wanted.items()},
            phases=frozenset(parse_statuses(status)),
            initiator=initiator or "",
            updated_after=parse_user_time(since, "since", self.tz),
            started_after=parse_user_time(started_after, "started_after", self.tz),
        )
        page: Page = self._call("cannot list jobs", self.backend.list_jobs, request)
        return page

    def list_task(
        self,
        job: str | None = None,
        status: Iterable[str] | str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        marker: str | None = None,
    ) -> TaskPage:
        """Tasks in name order. With ``job``: every task of that job, never-created ones included (in spec
        order); without: the KusciaTasks that exist, one page read from the backend (``Backend.list_tasks``).
        ``status`` filters by phase (Blocked too). ``marker`` is the ``next_marker`` of the previous page; a
        page continues after the marker's task even if that task was deleted meanwhile."""
        from reconciler.views import TaskPage, task_info

        states = parse_task_states(status)
        check_max_keys(max_keys)
        if job:
            return page_tasks(self.show_job(job).tasks, states, max_keys, marker, job)
        request = TaskPageRequest(self.namespace, max_keys, marker or "", frozenset(states))
        page: Page = self._call("cannot list tasks", self.backend.list_tasks, request)
        return TaskPage([task_info(t) for t in page.items], page.next_marker)

    def show_task(self, name: str) -> TaskInfo:
        """A KusciaTask's status in detail: phase, parties, endpoints, conditions, times."""
        from reconciler.views import spec_of, task_info

        task = self._call(f"cannot read task {name}", self.backend.get, self._ref(TASK, name))
        if task is None:
            names: list[str] = []
            with contextlib.suppress(BackendError):  # for "did you mean": names alone
                names = self.backend.task_names(self.namespace)
            raise TaskNotFound(name, self.namespace, names)
        info = task_info(task)
        if info.job:
            job = self.backend.get(self._ref(JOB, info.job))
            if job is not None:
                template = spec_of(job).task(info.alias) if info.alias else None
                info = task_info(task, template, info.job)
        return info

    def job_graph(self, name: str) -> Graph:
        """The job's DAG with live phases (render it with ``reconciler.render.graph``)."""
        from reconciler.render.graph import graph_from_job  # `graph` alone draws; `job list` never loads it

        return graph_from_job(self.show_job(name))

    def job_logs(
        self, name: str, task: str | None = None, party: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        """Log lines of the job's tasks (embedded engine); ``follow`` keeps reading until the job ends."""
        info = self.show_job(name)
        if task is not None and not any(task in (t.name, t.alias) for t in info.tasks):
            names = ", ".join(t.alias for t in info.tasks)
            raise InvalidArgument(f"job {name} has no task `{task}`; its tasks are: {names}")
        try:
            yield from self.backend.logs(name, task, party, follow)
        except NotFound as exc:
            raise ClientError(str(exc)) from None
        except BackendError as exc:
            raise ClientError(f"cannot read logs of job {name}: {exc}") from None

    # -- writing ----------------------------------------------------------------------------------------
