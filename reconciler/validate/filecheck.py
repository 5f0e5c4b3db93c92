"""validate_file: one file's bytes -> findings, objects and positions. Pure: no disk, no clock."""

from __future__ import annotations

import sys
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from reconciler.kuscia.labels import KGITOPS_PREFIX
from reconciler.load.documents import Document, LoadError, iter_documents
from reconciler.model import API_VERSION, KINDS, ObjectRef, Origin, Resource
from reconciler.model.objects import API_GROUP, KUSCIA_JOB, KUSCIA_TASK
from reconciler.validate.findings import RULES, Finding, Severity
from reconciler.validate.metadata import reserved_key_issues
from reconciler.validate.objectcheck import APPROVAL_KIND, approval_issues, object_issues
from reconciler.validate.result import DocumentInfo, Facts, FileResult, Options, Place
from reconciler.validate.suggest import closest

_DEFAULT_OPTIONS = Options()


def _finding(
    rule: str,
    message: str,
    path: str,
    line: int = 0,
    column: int = 0,
    ref: ObjectRef | None = None,
    severity: Severity | None = None,
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity or RULES[rule].severity,
        message=message,
        path=path,
        line=line,
        column=column,
        kind=ref.kind if ref else "",
        namespace=ref.namespace if ref else "",
        name=ref.name if ref else "",
    )


# Byte order marks of the encodings YAML 1.2 allows besides UTF-8 (UTF-32 first: its LE mark starts with
# UTF-16's), as an editor's "Unicode" save writes them
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)


_BOM_STARTS = tuple(bom for bom, _ in _BOMS)


def _decode_problem(data: bytes) -> tuple[str, int, int] | None:
    if data.startswith(_BOM_STARTS):
        encoding = next(name for bom, name in _BOMS if data.startswith(bom))
        return f"the file is {encoding} text (it starts with a byte order mark); save it as UTF-8", 1, 1
    if b"\x00" in data:
        return "the file is binary (it contains NUL bytes), not YAML text", 0, 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = exc.start - (head.rfind(b"\n") + 1) + 1
        return f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8", line, column
    return None


def validate_file(path: str, data: bytes, options: Options | None = None) -> FileResult:
    """Validate one file's content. ``path`` is only used to label findings and origins."""
    options = options or _DEFAULT_OPTIONS
    result = FileResult(path)
    if len(data) > options.max_file_size:
        result.findings.append(
            _finding(
                "IO003",
                f"the file is {len(data)} bytes, above the limit of "
                f"{options.max_file_size} (raise it with --max-file-size)",
                path,
            )
        )
        return result
    problem = _decode_problem(data)
    if problem:
        result.findings.append(_finding("YAML002", problem[0], path, problem[1], problem[2]))
        return result
    seen_any = False
    try:
        for doc in iter_documents(data):
            seen_any = True
            _check_document(doc, path, options, result)
    except LoadError as exc:
        seen_any = True
        result.findings.append(_finding(exc.rule, exc.message, path, exc.line, exc.column))
    if not seen_any:
        result.findings.append(_finding("YAML003", "the file holds no YAML document", path, 1, 1))
    result.findings.sort(key=Finding.sort_key)
    return result


def _identify(doc: dict[str, Any], kind: str) -> ObjectRef | None:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return None
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    namespace = meta.get("namespace")
    # interned: a run over many files keeps every object's identity for the cross-file rules, and kinds and
    # namespaces repeat
    return ObjectRef.of(sys.intern(kind), name, sys.intern(namespace) if isinstance(namespace, str) else None)


def _check_document(doc: Document, path: str, options: Options, result: FileResult) -> None:
    data = doc.data
    if not isinstance(data, dict):
        shape = "a list" if isinstance(data, list) else f"the plain value {str(data)[:40]!r}"
        result.findings.append(
            _finding(
                "YAML004",
                f"document {doc.index} is {shape}, not a mapping of an object",
                path,
                doc.line,
                doc.column,
            )
        )
        return
    kind = data.get("kind")
    if kind == APPROVAL_KIND:
        _check_approval(doc, data, path, result)
        return
    if kind not in KINDS:
        result.findings.append(_unknown_kind(doc, data, path, options))
        return
    assert isinstance(kind, str)
    ref = _identify(data, kind)
    result.documents.append(DocumentInfo(doc.index, kind, ref, doc))
    issues = object_issues(data, kind)
    body = {k: v for k, v in data.items() if k != "status"} if "status" in data else data
    issues += reserved_key_issues(body)  # a manifest's keys only (admission stores objects that carry them)
    spec = body.get("spec")
    for issue in issues:
        line, column = doc.locate(issue.path, issue.at_key)
        severity: Severity | None = None
        if issue.rule == "SCHEMA008" and options.lenient:
            severity = Severity.WARNING
        result.findings.append(_finding(issue.rule, issue.message, path, line, column, ref, severity))
    if ref is None:
        if not any(i.rule == "META001" for i in issues):
            result.findings.append(
                _finding("META001", "the object has no usable metadata.name", path, doc.line, doc.column)
            )
        return
    origin = Origin(path, doc.line, doc.column)
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    result.objects.append(_resource(kind, ref, body, meta, spec, origin))
    result.facts.append(_facts(kind, ref, spec, doc, path))


def _object_shaped(data: dict[str, Any]) -> bool:
    """Whether a document is meant as a Kubernetes object (so a missing ``kind`` is a mistake)."""
    return any(k in data for k in ("kind", "apiVersion", "metadata", "spec"))


# API groups whose every document is ours to read: an unknown kind in one is a mistake (a record, a job), not
# another tool's object
_GROUP_KINDS: dict[str, tuple[str, ...]] = {API_GROUP: KINDS, KGITOPS_PREFIX.rstrip("/"): (APPROVAL_KIND,)}


def _unknown_kind(doc: Document, data: dict[str, Any], path: str, options: Options) -> Finding:
    """A document that is not a Kuscia object. Another API group's kind (a ConfigMap, a kustomization) is
    only a note; but a document with no ``kind``, or an unknown kind under ``apiVersion:
    kuscia.secretflow/...``, is a mistake whose objects would silently vanish (and be pruned): an error."""
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if (not isinstance(kind, str) or not kind) and _object_shaped(data):
        line, column = doc.locate(("kind",)) if "kind" in data else (doc.line, doc.column)
        meta = data.get("metadata")
        nested = [k for k in ("apiVersion", "kind") if isinstance(meta, dict) and k in meta]
        hint = (
            f"; `metadata` holds {' and '.join(f'`{k}`' for k in nested)}: indent them as top-level keys"
            if nested
            else f"; set `kind` to one of {', '.join(KINDS)}"
        )
        what = f"`kind` is {kind!r}, not a kind name" if "kind" in data else "the document has no `kind`"
        return _finding("KIND004", f"{what}{hint}", path, line, column)
    line, column = doc.locate(("kind",)) if "kind" in data else (doc.line, doc.column)
    if not isinstance(kind, str) or not kind:  # not an object at all: a config file, a CI workflow
        return _finding(
            "KIND001",
            "a document without `kind`, `apiVersion`, `metadata` or `spec` is not a Kubernetes object;"
            " skipped",
            path,
            line,
            column,
            severity=Severity.ERROR if options.reject_unknown_kinds else Severity.NOTE,
        )
    group = api_version.split("/")[0].lower() if isinstance(api_version, str) else ""
    group_kinds = _GROUP_KINDS.get(group)
    if group_kinds is not None:
        same = [k for k in group_kinds if k.lower() == kind.lower()]
        guess = same[0] if same else closest(kind, list(group_kinds))
        known = f"did you mean `{guess}`?" if guess else f"the group's kinds are {', '.join(group_kinds)}"
        return _finding("KIND003", f"kind {kind!r} is not a kind of {group}; {known}", path, line, column)
    severity = Severity.ERROR if options.reject_unknown_kinds else Severity.NOTE
    return _finding(
        "KIND001",
        f"kind {kind!r} is not a Kuscia kind ({', '.join(KINDS)}); skipped",
        path,
        line,
        column,
        severity=severity,
    )


def _check_approval(doc: Document, data: dict[str, Any], path: str, result: FileResult) -> None:
    """A JobApproval record (approvals through Git): schema-checked here, judged by ``reconciler.approvals``.

    It is not a backend object, so it never joins ``result.objects``."""
    ref = _identify(data, APPROVAL_KIND)
    issues = approval_issues(data)
    for issue in issues:
        line, column = doc.locate(issue.path, issue.at_key)
        result.findings.append(_finding(issue.rule, issue.message, path, line, column, ref))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def _resource(
    kind: str, ref: ObjectRef, body: dict[str, Any], meta: dict[str, Any], spec: Any, origin: Origin
) -> Resource:
    # the data was built fresh for this call and is never shared, so no deep copy is needed
    return Resource(
        kind=kind,
        name=ref.name,
        namespace=ref.namespace,
        api_version=str(body.get("apiVersion") or API_VERSION),
        labels=_strings(meta.get("labels")),
        annotations=_strings(meta.get("annotations")),
        spec=spec if isinstance(spec, dict) else {},
        resource_version=str(meta.get("resourceVersion") or ""),
        uid=str(meta.get("uid") or ""),
        creation_timestamp=str(meta.get("creationTimestamp") or ""),
        origin=origin,
    )


def _place_of(node: Node | None, path: str, value: str, fallback: Document) -> Place:
    mark = node.start_mark if node is not None else fallback.node.start_mark
    return Place(value, path, mark.line + 1, mark.column + 1)


def _children(node: Node | None, first: str, second: str) -> tuple[Node | None, Node | None]:
    """The value nodes of two keys of a mapping node (None where absent), in one pass over its keys."""
    one = two = None
    if isinstance(node, MappingNode):
        for k, v in node.value:
            key = k.value
            if key == first:
                if one is None:
                    one = v
            elif key == second and two is None:
                two = v
    return one, two


def _facts(kind: str, ref: ObjectRef, spec: Any, doc: Document, path: str) -> Facts:
    """Walks the node tree once (not a locate() per value): this runs for every object of every file."""
    task_ids: list[Place] = []
    images: list[Place] = []
    meta_node, spec_node = _children(doc.node, "metadata", "spec")
    if isinstance(spec, dict) and kind in (KUSCIA_JOB, KUSCIA_TASK):
        field, image_key = ("tasks", "appImage") if kind == KUSCIA_JOB else ("parties", "appImageRef")
        items = spec.get(field)
        seq = _children(spec_node, field, "")[0]
        nodes = seq.value if isinstance(seq, SequenceNode) else []
        job = kind == KUSCIA_JOB
        for item, node in zip(items if isinstance(items, list) else [], nodes, strict=False):
            if item.__class__ is not dict:
                continue
            task_id, image = item.get("taskID"), item.get(image_key)
            want_id = job and isinstance(task_id, str) and task_id != ""
            want_image = isinstance(image, str) and image != ""
            if not (want_id or want_image):
                continue
            id_node, image_node = _children(node, "taskID", image_key)
            if want_id:
                task_ids.append(_place_of(id_node, path, str(task_id), doc))
            if want_image:
                images.append(_place_of(image_node, path, str(image), doc))
    name_node = _children(meta_node, "name", "")[0]
    return Facts(ref, _place_of(name_node, path, ref.name, doc), tuple(task_ids), tuple(images))
