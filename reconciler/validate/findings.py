"""Findings and the catalogue of rule ids: the contract every output format and docs/validate.md share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reconciler.model import ObjectRef
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str


_RULES = [
    # loading
    Rule(
        "IO001",
        Severity.ERROR,
        "a file or entry that cannot be read as manifests (permissions, a pipe or device, a directory named "
        "like a manifest, a link named like one, a broken link)",
    ),
    Rule("IO002", Severity.ERROR, "a symbolic link leads outside the directory being validated"),
    Rule("IO003", Severity.ERROR, "the file is larger than `--max-file-size` (default 5 MiB)"),
    Rule("YAML001", Severity.ERROR, "YAML syntax error (with the parser's position)"),
    Rule(
        "YAML002", Severity.ERROR, "the file is not UTF-8 text (binary, UTF-16/UTF-32, or another encoding)"
    ),
    Rule("YAML003", Severity.WARNING, "the file holds no YAML document"),
    Rule("YAML004", Severity.ERROR, "a document is not a mapping (a list or a plain value)"),
    Rule("YAML005", Severity.ERROR, "aliases expand far beyond the file's size (an alias bomb)"),
    Rule("YAML006", Severity.ERROR, "nesting deeper than 100 levels"),
    Rule("YAML007", Severity.ERROR, "a document holds more than 200,000 values"),
    Rule("YAML008", Severity.ERROR, "the same key twice in one mapping"),
    Rule(
        "YAML009",
        Severity.ERROR,
        "a YAML tag other than the standard ones (`!!str`, `!!int`, …): `!!python/object/apply`, "
        "a custom `!tag`",
    ),
    Rule("KIND001", Severity.NOTE, "not a Kuscia kind: skipped (an error with `--reject-unknown-kinds`)"),
    Rule("KIND002", Severity.ERROR, "a Kuscia kind with a wrong or missing `apiVersion`"),
    Rule(
        "KIND003", Severity.ERROR, "an unknown kind in the Kuscia API group (`kuscia.secretflow/…`): a typo"
    ),
    Rule("KIND004", Severity.ERROR, "an object (it has `apiVersion`, `metadata` or `spec`) without `kind`"),
    # CRD schema
    Rule("SCHEMA001", Severity.ERROR, "a required field is missing"),
    Rule("SCHEMA002", Severity.ERROR, "a value has the wrong type"),
    Rule("SCHEMA003", Severity.ERROR, "a value is not one of the allowed values (enum)"),
    Rule("SCHEMA004", Severity.ERROR, "a number is out of range (e.g. `maxParallelism` 1-128)"),
    Rule(
        "SCHEMA005", Severity.ERROR, "a list is too short or too long (1-128 tasks, non-empty `dependencies`)"
    ),
    Rule("SCHEMA006", Severity.ERROR, "a string does not match the schema's pattern"),
    Rule("SCHEMA007", Severity.ERROR, "two list entries share a key that must be unique (list-type map)"),
    Rule("SCHEMA008", Severity.ERROR, "a field the schema does not know (a warning with `--lenient`)"),
    # ObjectMeta
    Rule("META001", Severity.ERROR, "`metadata.name` missing or not a DNS-1123 subdomain"),
    Rule("META002", Severity.ERROR, "`metadata.namespace` not a DNS-1123 label"),
    Rule("META003", Severity.ERROR, "a label key or value, or an annotation key, is not valid"),
    Rule("META004", Severity.ERROR, "an ownerReference lacks apiVersion, kind, name or uid"),
    Rule(
        "META005",
        Severity.WARNING,
        f"a {KUSCIA_JOB} or {KUSCIA_TASK} outside namespace `cross-domain`, which Kuscia never runs "
        "(kuscia#276)",
    ),
    Rule(
        "META006",
        Severity.ERROR,
        "a label or annotation key that Kuscia's controllers or kgitops set (`kuscia.secretflow/job-uid`, "
        "`kgitops.io/managed-by`, …)",
    ),
    Rule("META007", Severity.WARNING, "a Kuscia stage label (`kuscia.secretflow/job-stage`) on a manifest"),
    # KusciaJob
    Rule("KJ001", Severity.ERROR, "two tasks of a job share an alias"),
    Rule("KJ002", Severity.ERROR, "a taskID is not a DNS-1123 label (the CRD's own pattern is unanchored)"),
    Rule("KJ003", Severity.ERROR, "two tasks of a job share a taskID"),
    Rule("KJ004", Severity.ERROR, "a dependency names no alias of the job (says so when it names a taskID)"),
    Rule("KJ005", Severity.ERROR, "the task graph has a cycle (shown as `a → b → a`)"),
    Rule("KJ006", Severity.ERROR, "a tolerable task is a dependency of another task (deviation D2)"),
    Rule("KJ007", Severity.WARNING, "the initiator is a party of no task"),
    Rule(
        "KJ008",
        Severity.ERROR,
        f"a {KUSCIA_JOB} name longer than 63 characters, which Kuscia refuses as a job id "
        "(KusciaAPI `job_id`)",
    ),
    # references (jobs, tasks, images)
    Rule("REF001", Severity.ERROR, "`appImage`/`appImageRef` is not an object name (e.g. a container image)"),
    Rule("REF002", Severity.ERROR, "a domain ID (`domainID`, `initiator`) is not a DNS-1123 label"),
    Rule("REF003", Severity.WARNING, "`taskInputConfig` starts like JSON but does not parse"),
    Rule("REF004", Severity.ERROR, "a container has no valid name, or two containers share one"),
    Rule("REF005", Severity.ERROR, "a port name is not an IANA service name, or is used twice"),
    Rule("REF006", Severity.ERROR, "a party has no `domainID`, or a task has no parties"),
    # across files
    Rule("XF001", Severity.ERROR, "the same kind/namespace/name is defined twice in the input"),
    Rule(
        "XF002",
        Severity.ERROR,
        f"a taskID is used by two jobs, or by a job and a {KUSCIA_TASK}, in one namespace",
    ),
    Rule(
        "XF003",
        Severity.WARNING,
        f"a task's {APP_IMAGE} is not in the input (the live system may have it)",
    ),
]
RULES: dict[str, Rule] = {r.id: r for r in _RULES}


@dataclass(frozen=True)
class Finding:
    """One problem at one place. ``kind``/``namespace``/``name`` name the object it holds back, when known;
    ``involves``: the other objects a cross-object finding concerns (``XF002``: the object that claimed the
    taskID first), which it does not hold back but which are not usable with it either."""

    rule: str
    severity: Severity
    message: str
    path: str
    line: int = 0
    column: int = 0
    kind: str = ""
    namespace: str = ""
    name: str = ""
    involves: tuple[ObjectRef, ...] = ()

    @property
    def ref(self) -> ObjectRef | None:
        if not self.kind or not self.name:
            return None
        return ObjectRef(self.kind, self.namespace, self.name)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)
