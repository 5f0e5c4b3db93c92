"""Admission: the one check every object passes before any backend stores it.

Every way into a backend — ``kgitops sync``, ``job create``, ``job update``, KusciaAPI ``create`` (``kgitops
serve``), ``kgitops simulate`` and approvals — ends in a call of ``Backend.create``, ``update``,
``update_metadata`` or ``approve``. ``reconciler.backends.base.Backend`` implements those four methods itself,
runs the checks of this module first, and only then calls the backend's own ``_create``/``_update``/... ;
``Backend.__init_subclass__`` refuses (TypeError, at import time) any backend class that overrides one of the
four. So no backend can be written, constructed or called in a way that skips admission: a backend built
outside ``open_backend``, a test double, a subclass in a plugin, all pass through the same gate.
``kgitops simulate`` never reaches a backend (it runs the engine on an in-memory store), so
``reconciler.engine.simulate.Simulator`` calls ``check_manifest`` itself, before it stores the job.

The checks are exactly ``kgitops validate``'s: ``check_manifest`` runs ``objectcheck.object_issues``, the same
function ``validate_file`` runs on each document (CRD schema incl. integer formats, metadata, task graph,
references). What differs is only what admission can know:

- no file, so no line and column: a problem names its field (``spec.maxParallelism``);
- strict: unknown fields are errors (there is no ``--lenient`` at the door), and so is a kind other than
  KusciaJob, KusciaTask, AppImage (and JobApproval for records);
- cross-object rules (``XF001``/``XF002``) need the other objects: ``check_against`` runs them against the
  objects a caller has at hand (the live jobs and tasks of the namespace for ``job create`` and KusciaAPI
  create; sync checks the whole source at once, as validate does).

A verdict's warnings (``META005``, ``KJ007``, ``REF003``, ``XF003``) never refuse; errors always do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import KINDS, ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK
from reconciler.validate.crossfile import check_facts
from reconciler.validate.findings import RULES, Severity
from reconciler.validate.metadata import check_metadata
from reconciler.validate.objectcheck import APPROVAL_KIND, approval_issues, object_issues
from reconciler.validate.result import Facts, Place
from reconciler.validate.schema import Issue, show_path


@dataclass(frozen=True)
class Problem:
    """One finding of admission: ``field`` is the path in the object (``spec.tasks[0].alias``), "" for all."""

    rule: str
    severity: Severity
    field: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.severity.value} {self.rule} {self.message}"


@dataclass(frozen=True)
class Verdict:
    """What admission decided about one object: ``ok`` unless a problem is an error."""

    what: str  # "KusciaJob/cross-domain/x", or the kind when the object has no usable name
    problems: tuple[Problem, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __add__(self, other: Verdict) -> Verdict:
        return Verdict(self.what, self.problems + other.problems)

    def message(self) -> str:
        """``<what> is invalid: <field>: error RULE text; ...`` (errors only): for one-line API answers."""
        return f"{self.what} is invalid: " + "; ".join(str(p) for p in self.errors)

    def lines(self) -> list[str]:
        """One line per error, for a terminal."""
        return [str(p) for p in self.errors]


def _problems(issues: Iterable[Issue]) -> tuple[Problem, ...]:
    return tuple(
        Problem(i.rule, RULES[i.rule].severity, show_path(i.path) if i.path else "", i.message)
        for i in issues
    )


def _what(data: Mapping[str, Any], kind: str) -> str:
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        return kind or "the object"
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return str(ObjectRef.of(kind, name, namespace if isinstance(namespace, str) else None))


def check_manifest(data: Mapping[str, Any]) -> Verdict:
    """``validate``'s checks on one object given as a manifest mapping (apiVersion, kind, metadata, spec)."""
    if not isinstance(data, Mapping):
        return Verdict("the object", (Problem("YAML004", Severity.ERROR, "", "an object must be a mapping"),))
    doc = dict(data)
    kind = doc.get("kind")
    if kind == APPROVAL_KIND:
        return Verdict(_what(doc, APPROVAL_KIND), _problems(approval_issues(doc)))
    if not isinstance(kind, str) or kind not in KINDS:
        shown = f"kind {kind!r}" if isinstance(kind, str) else "an object without `kind`"
        text = f"{shown} is not a Kuscia kind ({', '.join(KINDS)}); a backend stores only those"
        return Verdict(_what(doc, str(kind or "")), (Problem("KIND001", Severity.ERROR, "kind", text),))
    issues = object_issues(doc, kind)
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if (not isinstance(name, str) or not name) and not any(i.rule == "META001" for i in issues):
        issues.append(Issue("META001", ("metadata",), "the object has no usable metadata.name"))
    return Verdict(_what(doc, kind), _problems(issues))


def check_resource(obj: Resource) -> Verdict:
    """``check_manifest`` of the object a backend would store (its status is never judged)."""
    return check_manifest(obj.to_manifest())


def check_metadata_change(
    ref: ObjectRef,
    labels: Mapping[str, str | None] | None = None,
    annotations: Mapping[str, str | None] | None = None,
) -> Verdict:
    """The labels and annotations a metadata update sets (None removes a key, so it is not checked), by the
    same rules (META003) as ``validate`` applies to a manifest's."""
    meta: dict[str, Any] = {"name": ref.name}
    if labels:
        meta["labels"] = {k: v for k, v in labels.items() if v is not None}
    if annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if v is not None}
    issues = [i for i in check_metadata({"metadata": meta}, not ref.namespace) if i.rule == "META003"]
    bad_values = [
        Issue("SCHEMA002", ("metadata", what, str(k)), f"`metadata.{what}.{k}` must be a string, not {v!r}")
        for what, items in (("labels", labels), ("annotations", annotations))
        for k, v in (items or {}).items()
        if v is not None and not isinstance(v, str)
    ]
    return Verdict(str(ref), _problems(issues + bad_values))


def _task_ids(obj: Resource) -> list[str]:
    if obj.kind == KUSCIA_TASK:
        return [obj.name]
    if obj.kind != KUSCIA_JOB:
        return []
    tasks = obj.spec.get("tasks")
    return [
        str(t["taskID"])
        for t in (tasks if isinstance(tasks, list) else [])
        if isinstance(t, dict) and isinstance(t.get("taskID"), str) and t["taskID"]
    ]


def _facts(obj: Resource, where: str) -> Facts:
    ids = tuple(Place(i, where, 0, 0) for i in _task_ids(obj)) if obj.kind == KUSCIA_JOB else ()
    return Facts(obj.ref, Place(obj.name, where, 0, 0), ids)


def check_against(obj: Resource, others: Iterable[Resource], where: str = "the backend") -> Verdict:
    """``validate``'s cross-object rules for ``obj`` among ``others`` (e.g. the live objects of its
    namespace).

    Only problems of ``obj`` itself are reported; an object of ``others`` with ``obj``'s own identity is left
    out (creating it again is the backend's AlreadyExists, and recreating it is sync's business). XF003 (a
    missing AppImage) is left to validate: a backend may have AppImages it cannot list."""
    own = _facts(obj, "the request")
    facts = [_facts(o, where) for o in others if o.ref != obj.ref] + [own]
    findings = [f for f in check_facts(facts) if f.ref == obj.ref and f.rule in ("XF001", "XF002")]
    problems = tuple(
        Problem(f.rule, f.severity, "spec.tasks" if obj.kind == KUSCIA_JOB else "metadata.name", f.message)
        for f in findings
    )
    return Verdict(str(obj.ref), problems)
