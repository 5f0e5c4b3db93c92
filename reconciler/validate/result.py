"""What validation produces: per-file results (findings, objects, positions), cross-file facts, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from reconciler.load.documents import Document
from reconciler.model import ObjectRef, Resource
from reconciler.validate.findings import Finding, Severity

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class Options:
    """``lenient``: unknown fields are warnings. ``reject_unknown_kinds``: other kinds are errors, not
    notes."""

    lenient: bool = False
    reject_unknown_kinds: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE


class Place(NamedTuple):
    """A value's position, with what the cross-file checks need to know about it: the value, the file, and
    its 1-based line and column (0: unknown). A named tuple, not a dataclass: several are made for every
    object of every file, and a tuple is made, pickled (to and from ``--workers``) and kept in a third of the
    time and memory."""

    value: str
    path: str
    line: int
    column: int


class Facts(NamedTuple):
    """What cross-file checks need from one object: small, picklable, no document tree (a named tuple, as
    ``Place``)."""

    ref: ObjectRef
    place: Place
    task_ids: tuple[Place, ...] = ()
    app_images: tuple[Place, ...] = ()


@dataclass
class DocumentInfo:
    """One document of a file: its kind and identity when known, and its node tree for positions."""

    index: int
    kind: str
    ref: ObjectRef | None
    document: Document = field(repr=False)

    @property
    def line(self) -> int:
        return self.document.line

    @property
    def column(self) -> int:
        return self.document.column

    def locate(self, path: tuple[str | int, ...], key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (e.g. ``("spec", "tasks", 0, "alias")``)."""
        return self.document.locate(path, key)


@dataclass
class FileResult:
    """Everything validate_file learnt about one file.

    ``objects`` holds every Kuscia object that could be identified, with defaults *not* applied and ``status``
    dropped; an object with an error finding is held: see ``held_refs`` / ``valid_objects``. A file-level
    error
    (``file_errors``: a finding with no object, such as a YAML syntax error) holds the whole file.
    """

    path: str
    findings: list[Finding] = field(default_factory=list)
    objects: list[Resource] = field(default_factory=list)
    documents: list[DocumentInfo] = field(default_factory=list)
    facts: list[Facts] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def file_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR and f.ref is None]

    def held_refs(self) -> set[ObjectRef]:
        return {r for f in self.findings if f.severity is Severity.ERROR and (r := f.ref) is not None}

    def valid_objects(self) -> list[Resource]:
        """Objects free of errors, or none at all when the file has a file-level error."""
        if self.file_errors:
            return []
        held = self.held_refs()
        return [o for o in self.objects if o.ref not in held]


@dataclass
class Totals:
    """What a summary line says: files read, Kuscia objects found, findings by severity."""

    files: int = 0
    objects: int = 0
    errors: int = 0
    warnings: int = 0
    notes: int = 0

    def add(self, findings: list[Finding]) -> None:
        for f in findings:
            if f.severity is Severity.ERROR:
                self.errors += 1
            elif f.severity is Severity.WARNING:
                self.warnings += 1
            else:
                self.notes += 1

    @property
    def exit_code(self) -> int:
        """0: no error finding; 1: at least one."""
        return 1 if self.errors else 0


@dataclass
class Report:
    """The result of validate_paths: every finding (sorted by file and position) and every object seen."""

    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    objects: list[tuple[ObjectRef, Place]] = field(default_factory=list)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def totals(self) -> Totals:
        totals = Totals(files=len(self.files), objects=len(self.objects))
        totals.add(self.findings)
        return totals
