"""Operating Kuscia jobs and tasks: ``Client``, the API that ``kgitops job``, ``task`` and ``graph`` call.

Every operation goes through the ``Backend`` interface, so it behaves the same on the embedded engine,
Kubernetes and KusciaAPI. Methods return typed views (``JobInfo``, ``TaskInfo``, ``JobPage``, ``TaskPage``)
and raise ``ClientError`` subclasses whose message is meant for the user::

    from reconciler.sdk import Client

    with Client.from_config("kgitops.yaml") as client:
        page = client.list_job(status=["Running"], max_keys=20)
        for job in page.items:
            print(job.name, job.phase)
        client.suspend_job(page.items[0].name)

Phase rules are Kuscia's (suspend only a Running job, restart only a Failed or Suspended one, ...); a
refused command raises ``PhaseNotAllowed`` naming the phase and the phases that would allow it. Jobs that
GitOps sync manages are protected: deleting one, or changing a label or annotation it carries, raises
``ManagedObject`` unless ``force=True``, because the next sync reports (and may undo) the change.

Every error is a ``ClientError`` (a ``reconciler.errors.KgitopsError`` with exit code 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from reconciler.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Invalid,
    NotFound,
    NotSupported,
    PhaseError,
    admit_new,
)
from reconciler.config import Config, load_config
from reconciler.jobops import (
    ClientError,
    InvalidArgument,
    InvalidObject,
    InvalidValue,
    JobExists,
    JobNotFound,
    ManagedObject,
    PhaseNotAllowed,
    TaskNotFound,
    check_approval,
    check_stage,
    managed_source,
    normalise_metadata,
    normalise_priority,
    parse_pairs,
    parse_statuses,
    parse_user_time,
)
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource, Stage
from reconciler.paging import (
    DEFAULT_MAX_KEYS,
    JobFilter,
    check_max_keys,
    decode_marker,
    page_jobs,
    page_tasks,
    parse_task_states,
)
from reconciler.render.graph import Graph, graph_from_job
from reconciler.validate import admission
from reconciler.views import (
    PRIORITY_ANNOTATION,
    JobInfo,
    JobPage,
    TaskInfo,
    TaskPage,
    job_info,
    job_phase_of,
    spec_of,
    task_info,
)

__all__ = [
    "Client",
    "GitApprovals",
    "git_approvals",
    "parse_pairs",
    "ClientError",
    "InvalidArgument",
    "InvalidObject",
    "InvalidValue",
    "JobExists",
    "JobInfo",
    "JobNotFound",
    "JobPage",
    "ManagedObject",
    "PhaseNotAllowed",
    "TaskInfo",
    "TaskNotFound",
    "TaskPage",
]

JOB = "KusciaJob"
TASK = "KusciaTask"


class Client:
    """Operate jobs and tasks on one backend. Construct from a ``Backend`` or with ``Client.from_config``."""

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
    ) -> Client:
        """Open the backend a config names (a ``Config``, a path, or None for ./kgitops.yaml or defaults).

        ``readonly``: only look; the embedded engine then creates no state directory or store (a missing one
        reads as empty) and starts no driver, and writes raise ClientError."""
        from reconciler.backends.factory import open_backend

        cfg = config if isinstance(config, Config) else load_config(config)
        try:
            backend = open_backend(cfg, readonly=readonly)
        except BackendError as exc:
            raise ClientError(str(exc)) from None
        except OSError as exc:  # e.g. a state directory that can not be created
            where = f" ({exc.filename})" if exc.filename else ""
            raise ClientError(
                f"cannot open the {cfg.backend.kind or 'local'} backend{where}: {exc.strerror or exc}"
            ) from None
        return cls(backend, namespace)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Client:
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
        except NotSupported as exc:
            raise ClientError(f"{what}: {exc}") from None
        except PhaseError:
            raise
        except (NotFound, AlreadyExists, Invalid):
            raise
        except BackendError as exc:
            raise ClientError(f"{what}: {exc}") from None

    def _get_job(self, name: str) -> Resource:
        job = self._call(f"cannot read job {name}", self.backend.get, self._ref(JOB, name))
        if job is None:
            raise JobNotFound(name, self.namespace, self._job_names())
        return job  # type: ignore[no-any-return]

    def _job_names(self) -> list[str]:
        try:
            return [j.name for j in self.backend.list(JOB, self.namespace)]
        except BackendError:
            return []

    def _tasks_of(self, job: Resource) -> dict[str, Resource]:
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
        flt = JobFilter(
            phases=frozenset(parse_statuses(status)),
            initiator=initiator or "",
            since=parse_user_time(since, "since", self.tz),
            started_after=parse_user_time(started_after, "started_after", self.tz),
        )
        check_max_keys(max_keys)
        if marker:
            decode_marker(marker)  # a bad marker is refused before the backend is asked
        label_filter = normalise_metadata(labels, "label", allow_remove=False) if labels else None
        jobs = self._call("cannot list jobs", self.backend.list, JOB, self.namespace, label_filter)
        return page_jobs(jobs, flt, max_keys, marker)

    def list_task(
        self,
        job: str | None = None,
        status: Iterable[str] | str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        marker: str | None = None,
    ) -> TaskPage:
        """Tasks in name order. With ``job``: every task of that job, never-created ones included (in spec
        order); without: every KusciaTask that exists. ``status`` filters by phase (Blocked too)."""
        states = parse_task_states(status)
        check_max_keys(max_keys)
        if job:
            infos = self.show_job(job).tasks
        else:
            tasks = self._call("cannot list tasks", self.backend.list, TASK, self.namespace)
            infos = sorted((task_info(t) for t in tasks), key=lambda t: t.name)
        return page_tasks(infos, states, max_keys, marker, job)

    def show_task(self, name: str) -> TaskInfo:
        """A KusciaTask's status in detail: phase, parties, endpoints, conditions, times."""
        task = self._call(f"cannot read task {name}", self.backend.get, self._ref(TASK, name))
        if task is None:
            names: list[str] = []
            with contextlib.suppress(BackendError):
                names = [t.name for t in self.backend.list(TASK, self.namespace)]
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

    def create_job(self, manifest: Mapping[str, Any] | Resource) -> JobInfo:
        """Create a KusciaJob from a manifest mapping or a ``Resource``.

        Raises ``InvalidObject`` when admission refuses it: ``kgitops validate``'s checks, and no taskID that
        a live job or task of the namespace already claims (XF002)."""
        obj = manifest if isinstance(manifest, Resource) else Resource.from_manifest(dict(manifest))
        if obj.kind != JOB:
            raise InvalidArgument(f"{obj.kind or 'an object without a kind'} is not a KusciaJob")
        if not obj.name:
            raise InvalidArgument("the job has no metadata.name")
        if not isinstance(manifest, Resource):
            # the mapping as given: a Resource would silently drop unknown top-level and metadata fields
            verdict = admission.check_manifest(manifest)
            if not verdict.ok:
                raise InvalidObject(verdict)
        if not obj.namespace or obj.namespace == DEFAULT_NAMESPACE:
            obj.namespace = self.namespace
        obj.status = {}
        try:
            admit_new(self.backend, obj)
            created = self._call(f"cannot create job {obj.name}", self.backend.create, obj)
        except Invalid as exc:
            raise InvalidObject(exc.verdict) from None
        except AlreadyExists:
            raise JobExists(obj.name, self.namespace) from None
        except BackendError as exc:
            raise ClientError(f"cannot create job {obj.name}: {exc}") from None
        return job_info(created)

    def delete_job(self, name: str, force: bool = False) -> None:
        """Delete the job and its tasks. A job GitOps manages needs ``force``: Git still declares it."""
        job = self._get_job(name)
        self._guard(
            job,
            "delete",
            "the next sync reports it as out of sync and, with sync.recreate_drifted, creates it again "
            "(it runs again)",
            force,
        )
        try:
            self._call(f"cannot delete job {name}", self.backend.delete, job.ref)
        except NotFound:
            raise JobNotFound(name, self.namespace, self._job_names()) from None

    def update_job(
        self,
        name: str,
        priority: str | None = None,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
        force: bool = False,
    ) -> JobInfo:
        """Change priority, labels or annotations. A value of "" or None removes that label/annotation.

        ``priority`` (HIGH, NORMAL or LOW, any case) may only change before the job is scheduled, as in
        PaddleFlow; it is recorded as the ``kgitops.io/priority`` annotation.
        """
        new_labels = normalise_metadata(labels, "label") if labels else {}  # bad values first: exit 2
        new_ann = normalise_metadata(annotations, "annotation") if annotations else {}
        value = normalise_priority(priority) if priority is not None else ""
        job = self._get_job(name)
        if priority is not None:
            info = job_info(job)
            if info.phase not in ("Initialized", "AwaitingApproval", "Pending"):
                raise PhaseNotAllowed(
                    name,
                    "change the priority of",
                    info.phase,
                    ("Initialized", "AwaitingApproval", "Pending"),
                    hint="the priority only matters before the job is scheduled",
                )
            new_ann[PRIORITY_ANNOTATION] = value
        if not new_labels and not new_ann:
            raise InvalidValue("nothing to update: give a priority, labels or annotations")
        # Sync compares only the keys Git sets; a key the live job already carries may be one of them.
        touched = {k for k in new_labels if k in job.labels} | {
            k for k in new_ann if k in job.annotations and k != PRIORITY_ANNOTATION
        }
        self._guard(
            job,
            "update",
            f"the next sync reports {', '.join(sorted(touched))} as drift from Git and, with "
            "sync.recreate_drifted, deletes and re-creates the job to restore Git's values",
            force,
            only_if=bool(touched),
        )
        try:
            self._call(
                f"cannot update job {name}",
                self.backend.update_metadata,
                job.ref,
                new_labels or None,
                new_ann or None,
            )
        except Invalid as exc:  # the backend's admission: e.g. annotations over 256 KiB together
            raise InvalidObject(exc.verdict, "updated") from None
        return self.show_job(name)

    def _stage(self, name: str, stage: Stage, reason: str, domain: str, wait: float) -> JobInfo:
        job = self._get_job(name)
        check_stage(job, stage)
        before = job_phase_of(job)
        trigger = domain or str(job.spec.get("initiator") or "")
        try:
            self._call(
                f"cannot {stage.value.lower()} job {name}",
                self.backend.stage,
                job.ref,
                stage,
                trigger,
                reason,
            )
        except PhaseError as exc:
            raise PhaseNotAllowed.from_backend(name, stage.value.lower(), exc) from None
        except NotFound:
            raise JobNotFound(name, self.namespace, self._job_names()) from None
        if wait > 0:
            self.wait_for(name, lambda j: j is None or job_phase_of(j) != before, wait)
        return self.show_job(name)

    def wait_for(self, name: str, done: Callable[[Resource | None], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until ``done(job)`` holds; False on timeout.

        On the embedded engine this drives the controllers in this process when no other process does
        (``LocalBackend.run_until``), so a command takes effect even without a running engine; other
        backends are polled, as their controllers run elsewhere.
        """
        ref = self._ref(JOB, name)

        def check() -> bool:
            return done(self.backend.get(ref))

        return self.backend.run_until(check, timeout)

    def stop_job(self, name: str, reason: str = "", domain: str = "", wait: float = 0.0) -> JobInfo:
        """Stop the job: running tasks are stopped and the job becomes Failed (Kuscia's Stop).

        ``domain`` is the party issuing the command (default: the initiator). ``wait``: seconds to wait for
        the backend to act on it (the same for every stage command); the returned job is read afterwards.
        """
        return self._stage(name, Stage.STOP, reason, domain, wait)

    def suspend_job(self, name: str, reason: str = "", domain: str = "", wait: float = 0.0) -> JobInfo:
        """Suspend a Running job; ``restart_job`` resumes it."""
        return self._stage(name, Stage.SUSPEND, reason, domain, wait)

    def restart_job(self, name: str, reason: str = "", domain: str = "", wait: float = 0.0) -> JobInfo:
        """Restart a Failed or Suspended job: tasks that did not succeed run again."""
        return self._stage(name, Stage.RESTART, reason, domain, wait)

    def cancel_job(self, name: str, reason: str = "", domain: str = "", wait: float = 0.0) -> JobInfo:
        """Cancel the job for good (also a Failed or Suspended one); it can not be restarted."""
        return self._stage(name, Stage.CANCEL, reason, domain, wait)

    def approve_job(self, name: str, domain: str, reason: str = "", wait: float = 0.0) -> JobInfo:
        """Record ``domain``'s approval of a job that is waiting for approval.

        ``wait``: seconds to wait for the job to move on once every party has approved."""
        return self._approve(name, domain, True, reason, wait)

    def reject_job(self, name: str, domain: str, reason: str = "", wait: float = 0.0) -> JobInfo:
        """Record ``domain``'s rejection; the job becomes ApprovalReject."""
        return self._approve(name, domain, False, reason, wait)

    def _approve(self, name: str, domain: str, accept: bool, reason: str, wait: float) -> JobInfo:
        job = self._get_job(name)
        check_approval(job, domain, accept)
        verb = "approve" if accept else "reject"
        before = job_phase_of(job)
        try:
            self._call(f"cannot {verb} job {name}", self.backend.approve, job.ref, domain, accept, reason)
        except Invalid as exc:  # an approval lets the job run: it must pass admission as it is stored
            raise InvalidObject(exc.verdict, "approved") from None
        except PhaseError as exc:
            raise PhaseNotAllowed.from_backend(name, verb, exc) from None
        except NotFound:
            raise JobNotFound(name, self.namespace, self._job_names()) from None
        info = self.show_job(name)
        others = [p for p in info.parties if p.domain_id != info.initiator]
        decided = not accept or all(p.approval == "JobAccepted" for p in others)
        if wait > 0 and decided and info.phase == before:
            self.wait_for(name, lambda j: j is None or job_phase_of(j) != before, wait)
            info = self.show_job(name)
        return info

    # -- the GitOps guard ---------------------------------------------------------------------------------

    def managed_source(self, name: str) -> str | None:
        """Where the job comes from when GitOps sync manages it (``path in source``), else None."""
        return managed_source(self._get_job(name))

    def _guard(self, job: Resource, verb: str, undo: str, force: bool, only_if: bool = True) -> None:
        source = managed_source(job)
        if source is not None and only_if and not force:
            raise ManagedObject(job.name, verb, source, undo)


@dataclass(frozen=True)
class GitApprovals:
    """For ``job show``: ``lines``, one per party whose decision came from a JobApproval in Git (who, when,
    which commit, or why that record has no effect); ``annotations``: the job's other annotations."""

    lines: list[str]
    annotations: dict[str, str]


def git_approvals(job: JobInfo) -> GitApprovals:
    """The Git provenance of ``job``'s approvals (its ``approvals.kgitops.io/<domain>`` annotations)."""
    from reconciler.approvals.provenance import git_record_lines, without_provenance

    parties = [(p.domain_id, p.approval) for p in job.parties]
    return GitApprovals(
        git_record_lines(job.annotations, parties, job.initiator), without_provenance(job.annotations)
    )
