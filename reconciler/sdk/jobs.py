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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.backends.base import (
    AlreadyExists,
    BackendError,
    Invalid,
    NotFound,
    PhaseError,
    admit_new,
)
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
)
from reconciler.model import DEFAULT_NAMESPACE, Resource, Stage
from reconciler.model.phases import ApprovePhase, JobPhase
from reconciler.sdk.job_reads import JOB, JobReader
from reconciler.views import PRIORITY_ANNOTATION, job_phase_of

if TYPE_CHECKING:  # the full views: imported on first use (`job list` prints summaries, never builds them)
    from reconciler.views import JobInfo, JobPage, TaskInfo, TaskPage

_VIEWS = ("JobInfo", "JobPage", "TaskInfo", "TaskPage")
PRIORITY_PHASES = (JobPhase.INITIALIZED, JobPhase.AWAITING_APPROVAL, JobPhase.PENDING)
"""The phases in which a job's priority may still change: before it is scheduled, as in PaddleFlow."""

__all__ = [
    "Client",
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

class Client(JobReader):
    """Operate jobs and tasks on one backend. Construct from a ``Backend`` or with ``Client.from_config``."""

    def create_job(self, manifest: Mapping[str, Any] | Resource) -> JobInfo:
        """Create a KusciaJob from a manifest mapping or a ``Resource``.

        Raises ``InvalidObject`` when admission refuses it: ``kgitops validate``'s checks, and no taskID that
        a live job or task of the namespace already claims (XF002)."""
        obj = manifest if isinstance(manifest, Resource) else Resource.from_manifest(dict(manifest))
        if obj.kind != JOB:
            raise InvalidArgument(f"{obj.kind or 'an object without a kind'} is not a {JOB}")
        if not obj.name:
            raise InvalidArgument("the job has no metadata.name")
        if not isinstance(manifest, Resource):
            # the mapping as given: a Resource would silently drop unknown top-level and metadata fields
            from reconciler.validate import admission  # the writes load the validator, not the reads

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
        from reconciler.views import job_info

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
            from reconciler.views import job_info

            info = job_info(job)
            if info.phase not in PRIORITY_PHASES:
                raise PhaseNotAllowed(
                    name,
                    "change the priority of",
                    info.phase,
                    PRIORITY_PHASES,
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
        decided = not accept or all(p.approval == ApprovePhase.ACCEPTED for p in others)
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


def __getattr__(name: str) -> Any:
    """PEP 562: ``JobInfo``, ``JobPage``, ``TaskInfo`` and ``TaskPage`` load ``reconciler.views.types`` on
    first use (``sdk.JobInfo`` finds them here)."""
    if name not in _VIEWS:
        raise AttributeError(f"module 'reconciler.sdk.jobs' has no attribute {name!r}")
    import reconciler.views

    value = getattr(reconciler.views, name)
    globals()[name] = value
    return value
