"""Every label and annotation key kgitops reads or writes: Kuscia's ``kuscia.secretflow/…`` keys and kgitops's
own ``kgitops.io/…`` keys.

Kuscia's keys are spelt as in Kuscia's ``pkg/common/constants.go`` (kuscia-semantics.md §1.3, §9); the engine,
the backends, the KusciaAPI server and client, the views and the CLI import them from here. Names are stable:
``LABEL_*`` for labels, ``ANNOTATION_*`` for annotations, ``*_PREFIX`` for a family of keys.
"""

from __future__ import annotations

# -- Kuscia (pkg/common/constants.go) -------------------------------------------------------------------
KUSCIA_PREFIX = "kuscia.secretflow/"
"""Every key Kuscia owns starts with this; a user may not set such a key by hand."""

LABEL_JOB_STAGE = KUSCIA_PREFIX + "job-stage"
"""The stage command on a KusciaJob: ``Create|Start|Stop|Cancel|Restart|Suspend`` (``JobStage``, §1.3, §5)."""
LABEL_JOB_STAGE_TRIGGER = KUSCIA_PREFIX + "job-stage-trigger"
"""The domain that issued the stage command."""
LABEL_JOB_STAGE_VERSION = KUSCIA_PREFIX + "job-stage-version"
"""Decimal string; ``"1"`` on the first write, +1 on every write (``setJobStage``)."""
STAGE_LABELS = (LABEL_JOB_STAGE, LABEL_JOB_STAGE_TRIGGER, LABEL_JOB_STAGE_VERSION)

LABEL_CONTROLLER = KUSCIA_PREFIX + "controller"
"""On a KusciaTask created for a job: ``kuscia-job`` (``CONTROLLER_KUSCIA_JOB``)."""
CONTROLLER_KUSCIA_JOB = "kuscia-job"
LABEL_JOB_UID = KUSCIA_PREFIX + "job-uid"
"""On a KusciaTask: the UID of the job that created it."""
LABEL_INTERCONN_PROTOCOL_TYPE = KUSCIA_PREFIX + "interconn-protocol-type"

ANNOTATION_JOB_ID = KUSCIA_PREFIX + "job-id"
"""On a KusciaTask: the name of its job."""
ANNOTATION_TASK_ALIAS = KUSCIA_PREFIX + "task-alias"
"""On a KusciaTask: the alias of the job's task template it was built from."""
ANNOTATION_SELF_CLUSTER_AS_PARTICIPANT = KUSCIA_PREFIX + "self-cluster-as-participant"
ANNOTATION_SELF_CLUSTER_AS_INITIATOR = KUSCIA_PREFIX + "self-cluster-as-initiator"
"""``"true"``/``"false"``, set by the controller in Initialized."""
ANNOTATION_INITIATOR = KUSCIA_PREFIX + "initiator"
ANNOTATION_INTERCONN_SELF_PARTIES = KUSCIA_PREFIX + "interconn-self-parties"
"""The domains this cluster hosts, joined with ``_``; KusciaAPI's approve speaks for them (§9)."""
ANNOTATION_INTERCONN_KUSCIA_PARTIES = KUSCIA_PREFIX + "interconn-kuscia-parties"
ANNOTATION_INTERCONN_BFIA_PARTIES = KUSCIA_PREFIX + "interconn-bfia-parties"

CUSTOM_FIELD_PREFIX = "kuscia.job.custom-fields/"
"""KusciaAPI's ``custom_fields`` become labels ``kuscia.job.custom-fields/<key>`` (§9 create)."""

# -- kgitops's own ----------------------------------------------------------------------------------------
KGITOPS_PREFIX = "kgitops.io/"
KGITOPS_API_VERSION = KGITOPS_PREFIX + "v1alpha1"
"""apiVersion of kgitops's own documents (JobApproval records, the status file)."""

LABEL_MANAGED_BY = KGITOPS_PREFIX + "managed-by"
MANAGED_BY_VALUE = "kgitops"
LABEL_SOURCE = KGITOPS_PREFIX + "source"
"""A 16-hex hash of the source id (label values are limited to 63 characters)."""
ANNOTATION_SOURCE_ID = KGITOPS_PREFIX + "source-id"
ANNOTATION_SOURCE_PATH = KGITOPS_PREFIX + "source-path"
ANNOTATION_SPEC_HASH = KGITOPS_PREFIX + "spec-hash"
ANNOTATION_REVISION = KGITOPS_PREFIX + "revision"
ANNOTATION_PRUNE = KGITOPS_PREFIX + "prune"
"""Set by users on a manifest: ``disabled`` means the object is never pruned."""
ANNOTATION_STOPPED_AT = KGITOPS_PREFIX + "prune-stopped-at"
"""Set by kgitops when prune stops a running job (Kuscia's Stop stage label): when, in RFC 3339 UTC
(``2026-11-29T12:00:00Z``). A later sync deletes the job once it is final or ``prune.grace_period`` after
this; kept on the object, so the wait survives a restart of kgitops."""
ANNOTATION_ON_CHANGE = KGITOPS_PREFIX + "on-change"
"""Set by users on a manifest: ``recreate`` means a changed job is deleted and created again."""
ANNOTATION_PRIORITY = KGITOPS_PREFIX + "priority"
"""``HIGH``, ``NORMAL`` or ``LOW``: the PaddleFlow-style priority a user gave a job."""
LABEL_INVENTORY = KGITOPS_PREFIX + "inventory"
"""On the ConfigMaps in which the Kubernetes backend keeps a source's inventory."""

ANNOTATION_GITHUB_REVIEW = KGITOPS_PREFIX + "github-review"
ANNOTATION_GITHUB_REVIEWER = KGITOPS_PREFIX + "github-reviewer"
ANNOTATION_GITHUB_PULL_REQUEST = KGITOPS_PREFIX + "github-pull-request"
ANNOTATION_GITHUB_REVIEWED_COMMIT = KGITOPS_PREFIX + "github-reviewed-commit"

APPROVALS_ANNOTATION_PREFIX = "approvals." + KGITOPS_PREFIX
"""``approvals.kgitops.io/<domain>``: a party's last judged approval record, as JSON, on the live job."""

RESERVED_PREFIXES = (KUSCIA_PREFIX, KGITOPS_PREFIX)

LABEL_TASK_UNSCHEDULABLE = KUSCIA_PREFIX + "task-unschedulable"
"""On the KusciaTasks of a BFIA job: ``"true"`` (kuscia-semantics.md §4.6)."""

CONTROLLER_KEYS = frozenset(
    {
        LABEL_CONTROLLER,
        LABEL_JOB_UID,
        ANNOTATION_JOB_ID,
        ANNOTATION_TASK_ALIAS,
        ANNOTATION_SELF_CLUSTER_AS_PARTICIPANT,
        LABEL_TASK_UNSCHEDULABLE,
    }
)
"""The keys Kuscia's job controller writes on the KusciaTasks it creates for a job (kuscia-semantics.md §1.3,
§4.6): it finds a job's tasks by them, so a hand-set one misleads it. The stage labels (``STAGE_LABELS``) are
Kuscia's too: written by ``kgitops job stop|suspend|…`` and KusciaAPI (Kuscia's docs also ``kubectl label``
them). Kuscia's other keys — the annotations the controller recomputes from the spec in Initialized
(``initiator``, ``self-cluster-as-initiator``, the ``interconn-*`` ones), the interconn protocol label and
an AppImage's ``component-spec`` — are set by users and by Kuscia's own manifests, and are not reserved."""

USER_KEYS = frozenset({ANNOTATION_PRUNE, ANNOTATION_ON_CHANGE, ANNOTATION_PRIORITY})
"""kgitops's keys a user writes on a manifest (docs/gitops.md, docs/jobs.md); its others are reserved."""


def reserved_owner(key: str) -> str:
    """Who owns the label or annotation ``key``, which a user may then not set, neither on a manifest
    (``validate``'s META006; a stage label only a warning, META007) nor by ``job update``: ``"Kuscia"`` for
    ``CONTROLLER_KEYS`` and ``STAGE_LABELS``, ``"kgitops"`` for ``kgitops.io/…`` and ``*.kgitops.io/…``
    (ownership, source, spec hash, revision, approval records) but ``USER_KEYS``; ``""`` for any other."""
    if key in CONTROLLER_KEYS or key in STAGE_LABELS:
        return "Kuscia"
    if key in USER_KEYS:
        return ""
    prefix = key.rpartition("/")[0]
    if key.startswith(KGITOPS_PREFIX) or prefix.endswith("." + KGITOPS_PREFIX.rstrip("/")):
        return "kgitops"
    return ""


def is_reserved(key: str) -> bool:
    """True for a key users may not set by hand (``reserved_owner``)."""
    return bool(reserved_owner(key))
