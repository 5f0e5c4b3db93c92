"""Every check of one object's mapping, in one place: ``validate`` runs it on each document of a file (and
adds positions), admission (``reconciler.validate.admission``) runs it on each object a backend is asked to
store.

Pure: a mapping in, ``Issue``s (rule, field path, message) out.
"""

from __future__ import annotations

from typing import Any

from reconciler.kuscia.labels import KGITOPS_API_VERSION
from reconciler.kuscia.names import MAX_NAME, RESOURCE_ID_RE
from reconciler.model import API_VERSION, DEFAULT_NAMESPACE
from reconciler.model.objects import CLUSTER_SCOPED, JOB_APPROVAL, KUSCIA_JOB, KUSCIA_TASK
from reconciler.validate.graph import check_job_graph
from reconciler.validate.metadata import check_metadata
from reconciler.validate.names import dns1123_label, dns1123_subdomain
from reconciler.validate.references import (
    check_appimage_references,
    check_job_references,
    check_task_references,
)
from reconciler.validate.schema import Issue, checker

APPROVAL_KIND = JOB_APPROVAL
APPROVAL_API_VERSION = KGITOPS_API_VERSION
# Kuscia's controllers list KusciaJobs and KusciaTasks in this namespace only (kuscia#276).
KUSCIA_NAMESPACE = DEFAULT_NAMESPACE


def api_version_issues(data: dict[str, Any], kind: str, expected: str) -> list[Issue]:
    api_version = data.get("apiVersion")
    if api_version == expected:
        return []
    shown = repr(api_version) if api_version is not None else "missing"
    where = ("apiVersion",) if api_version is not None else ()
    return [Issue("KIND002", where, f"apiVersion is {shown}; a {kind} needs `apiVersion: {expected}`")]


def namespace_issues(body: dict[str, Any], kind: str) -> list[Issue]:
    """META005: a job or task in another namespace is stored by the API server but never reconciled: Kuscia's
    KusciaJob and KusciaTask controllers watch ``cross-domain`` only (kuscia#276)."""
    meta = body.get("metadata")
    if kind not in (KUSCIA_JOB, KUSCIA_TASK) or not isinstance(meta, dict):
        return []
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace or namespace == KUSCIA_NAMESPACE:
        return []
    if dns1123_label(namespace) is not None:
        return []  # META002 says what is wrong with it
    return [
        Issue(
            "META005",
            ("metadata", "namespace"),
            f"{kind} in namespace {namespace!r}: Kuscia's controllers reconcile {kind}s in "
            f"`{KUSCIA_NAMESPACE}` only, so Kuscia would store it and never run it (kuscia#276); "
            f"use `namespace: {KUSCIA_NAMESPACE}` or leave it out",
        )
    ]


def job_name_issues(body: dict[str, Any]) -> list[Issue]:
    """KJ008: a KusciaJob's name is its job id in Kuscia, which KusciaAPI checks against
    ``^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`` (``resources.ValidateK8sName``, ``pkg/common/constants.go``
    ``K3sRegex``; ``reconciler.kuscia.names.RESOURCE_ID_RE``): at most 63 characters. A longer name (a
    valid object name of up to 253) could not be created, queried or approved through KusciaAPI."""
    meta = body.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or len(name) <= MAX_NAME or dns1123_subdomain(name) is not None:
        return []  # (META001 says what is wrong with a name that is no object name at all)
    return [
        Issue(
            "KJ008",
            ("metadata", "name"),
            f"{KUSCIA_JOB} name {name[:20]!r}… is {len(name)} characters long: Kuscia's job ids have at most "
            f"{MAX_NAME} (KusciaAPI checks `job_id` against {RESOURCE_ID_RE.pattern}, "
            "pkg/common/constants.go K3sRegex); choose a name of 63 characters or fewer",
        )
    ]


def object_issues(data: dict[str, Any], kind: str) -> list[Issue]:
    """Everything wrong with one KusciaJob, KusciaTask or AppImage mapping (``kind`` must be one of them).

    ``status`` is ignored (the API server resets it). Rules: KIND002, SCHEMA*, META*, KJ*, REF*."""
    issues = api_version_issues(data, kind, API_VERSION)
    body = {k: v for k, v in data.items() if k != "status"} if "status" in data else data
    checker(kind)(body, (), issues)
    issues += check_metadata(body, kind in CLUSTER_SCOPED)
    issues += namespace_issues(body, kind)
    if kind == KUSCIA_JOB:
        issues += job_name_issues(body)
    spec = body.get("spec")
    if isinstance(spec, dict):
        if kind == KUSCIA_JOB:
            issues += check_job_graph(spec)
            issues += check_job_references(spec)
        elif kind == KUSCIA_TASK:
            issues += check_task_references(spec)
        else:
            issues += check_appimage_references(spec)
    return issues


def approval_issues(data: dict[str, Any]) -> list[Issue]:
    """What the schema finds wrong with a JobApproval record (kgitops's kind, approvals through Git)."""
    issues = api_version_issues(data, APPROVAL_KIND, APPROVAL_API_VERSION)
    body = {k: v for k, v in data.items() if k != "status"}
    checker(APPROVAL_KIND)(body, (), issues)
    return issues
