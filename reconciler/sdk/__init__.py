"""The kgitops SDK: the one public Python API, and the only place where sources, backends and status
write-back are put together. Every ``kgitops`` command is a thin layer over it (flags -> one call here ->
printing), so a script gets exactly what the CLI does::

    from reconciler import sdk

    cfg = sdk.configure("kgitops.yaml", sdk.Overrides(source="manifests/"))
    plan = sdk.diff(cfg)                              # what sync would do (read-only)
    report = sdk.sync(cfg, wait=True, timeout=600)    # apply it, follow the jobs
    for row in sdk.status(cfg).rows:
        print(row.name, row.sync, row.phase, row.age_seconds)
    with sdk.Client.from_config(cfg) as client:       # operate jobs and tasks on any backend
        client.suspend_job("job-psi")

Areas (each a module of this package):

- ``config``: ``configure(config, Overrides)``, ``configure_backend``, ``describe_backend``;
- ``gitops``: ``diff``, ``sync`` (with ``wait``), ``status``, ``watch``, ``RunOptions``;
- ``jobs``: ``Client`` (jobs and tasks: list, show, create, delete, stage commands, approve, logs);
- ``manifests``/``graphs``: ``read_job_file``, ``job_graphs``;
- ``approvals``: ``commit_approval``, ``list_approvals``, ``job_digest``, ``records_from_review``;
- ``checks``: ``validate`` (or ``validate_stream``, the findings as they come), ``simulate``;
- ``engine``: ``run_engine``, ``engine_status``;
- ``serving``: ``serve`` (KusciaAPI over HTTPS).

Every error is a ``reconciler.errors.KgitopsError`` carrying ``message``, ``hint`` and ``exit_code``
(``docs/exit-codes.md``). Names are imported on first use, so ``import reconciler.sdk`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.errors import KgitopsError, NotFoundError, UsageError
from reconciler.lazy import lazy_exports
from reconciler.units import parse_duration, parse_size

if TYPE_CHECKING:
    from reconciler.sdk.approval_lines import GitApprovals, git_approvals
    from reconciler.sdk.approvals import (
        ApprovalCommit,
        ApprovalsError,
        ReviewRecords,
        approvals_dir,
        approvals_repo,
        commit_approval,
        job_digest,
        list_approvals,
        records_from_review,
    )
    from reconciler.sdk.checks import SimulationRun, simulate, validate, validate_stream
    from reconciler.sdk.config import BACKEND_KINDS, configure, configure_backend, describe_backend
    from reconciler.sdk.engine import EngineError, EngineSettings, EngineStatus, engine_status, run_engine
    from reconciler.sdk.gitops import (
        GitopsError,
        RunOptions,
        StatusReport,
        SyncReport,
        WaitReport,
        diff,
        status,
        sync,
        watch,
    )
    from reconciler.sdk.graphs import GraphResult, job_graphs
    from reconciler.sdk.jobs import (
        Client,
        ClientError,
        InvalidArgument,
        InvalidObject,
        InvalidValue,
        JobExists,
        JobInfo,
        JobNotFound,
        JobPage,
        ManagedObject,
        PhaseNotAllowed,
        TaskInfo,
        TaskNotFound,
        TaskPage,
        parse_pairs,
    )
    from reconciler.sdk.manifests import ManifestError, read_job_file
    from reconciler.sdk.overrides import Overrides
    from reconciler.sdk.plan_comments import PlanCommentError, diff_for_comment, post_plan_comment
    from reconciler.sdk.serving import ServeError, ServeOptions, Serving, serve

# name -> the module of this package that defines it
_HOMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ApprovalCommit",
            "ApprovalsError",
            "ReviewRecords",
            "approvals_dir",
            "approvals_repo",
            "commit_approval",
            "job_digest",
            "list_approvals",
            "records_from_review",
        ),
        "approvals",
    ),
    **dict.fromkeys(("SimulationRun", "simulate", "validate", "validate_stream"), "checks"),
    **dict.fromkeys(("BACKEND_KINDS", "configure", "configure_backend", "describe_backend"), "config"),
    "Overrides": "overrides",
    **dict.fromkeys(("GitApprovals", "git_approvals"), "approval_lines"),
    **dict.fromkeys(
        ("EngineError", "EngineSettings", "EngineStatus", "engine_status", "run_engine"), "engine"
    ),
    **dict.fromkeys(
        ("GitopsError", "RunOptions", "StatusReport", "SyncReport", "WaitReport", "diff", "status", "sync"),
        "gitops",
    ),
    "watch": "gitops",
    **dict.fromkeys(("PlanCommentError", "diff_for_comment", "post_plan_comment"), "plan_comments"),
    **dict.fromkeys(("GraphResult", "job_graphs"), "graphs"),
    **dict.fromkeys(
        (
            "Client",
            "ClientError",
            "parse_pairs",
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
        ),
        "jobs",
    ),
    **dict.fromkeys(("ManifestError", "read_job_file"), "manifests"),
    **dict.fromkeys(("ServeError", "ServeOptions", "Serving", "serve"), "serving"),
}

__all__ = [
    "ApprovalCommit",
    "ApprovalsError",
    "BACKEND_KINDS",
    "Client",
    "ClientError",
    "EngineError",
    "EngineSettings",
    "EngineStatus",
    "GitApprovals",
    "GitopsError",
    "GraphResult",
    "InvalidArgument",
    "InvalidObject",
    "InvalidValue",
    "JobExists",
    "JobInfo",
    "JobNotFound",
    "JobPage",
    "KgitopsError",
    "ManagedObject",
    "ManifestError",
    "NotFoundError",
    "Overrides",
    "PhaseNotAllowed",
    "ReviewRecords",
    "RunOptions",
    "ServeError",
    "ServeOptions",
    "Serving",
    "SimulationRun",
    "StatusReport",
    "SyncReport",
    "TaskInfo",
    "TaskNotFound",
    "TaskPage",
    "UsageError",
    "WaitReport",
    "approvals_dir",
    "approvals_repo",
    "commit_approval",
    "configure",
    "configure_backend",
    "describe_backend",
    "PlanCommentError",
    "diff",
    "diff_for_comment",
    "engine_status",
    "git_approvals",
    "job_digest",
    "job_graphs",
    "list_approvals",
    "parse_duration",
    "parse_pairs",
    "parse_size",
    "post_plan_comment",
    "read_job_file",
    "records_from_review",
    "run_engine",
    "serve",
    "simulate",
    "status",
    "sync",
    "validate",
    "validate_stream",
    "watch",
]


__getattr__ = lazy_exports(__name__, _HOMES, globals())
