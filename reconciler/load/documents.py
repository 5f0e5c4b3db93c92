"""YAML bytes -> plain documents that remember where every value came from, read as Kubernetes reads them.

Kubernetes drops a null value of a field that is not nullable (no Kuscia CRD marks one nullable), so that
happens here once, for every consumer; scalars are resolved as Kubernetes resolves them
(``reconciler.load.parser``).
Manifests are untrusted: the limits in ``reconciler.load.limits`` are checked before and while building, and
duplicate keys are reported. libyaml (``CParser``) composes the node tree; the constructor below is the only
per-value work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.load.limits import (
    ALIAS_SLACK,
    MAX_DEPTH,
    deepest,
    flow_too_deep,
    needs_scan,
    scan_events,
    too_deep,
)
from reconciler.load.numbers import go_number
from reconciler.load.parser import (
    BOOL,
    FLOAT,
    INT,
    MAP,
    MERGE,
    NULL,
    NUMBER,
    SEQ,
    STR,
    TRUE,
    Composer,
    LoadError,
)

__all__ = ["MAX_DEPTH", "Document", "LoadError", "iter_documents", "locate"]


@dataclass
class Document:
    """One YAML document: its data (nulls dropped) and the node tree that locates any path in it."""

    index: int
    data: Any
    node: Node = field(repr=False)

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def column(self) -> int:
        return int(self.node.start_mark.column) + 1

    def locate(self, path: tuple[str | int, ...], key: bool = False) -> tuple[int, int]:
        """1-based line/column of the value at ``path`` (of its key when ``key``), or of its nearest
        ancestor."""
        return locate(self.node, path, key)


def locate(node: Node, path: tuple[str | int, ...], key: bool = False) -> tuple[int, int]:
    mark = node.start_mark
    for i, step in enumerate(path):
        last = i == len(path) - 1
        nxt: Node | None = None
        if isinstance(node, MappingNode) and isinstance(step, str):
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == step:
                    nxt = k if (last and key) else v
                    break
        elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            nxt = node.value[step]
        if nxt is None:
            break
        node = nxt
        mark = node.start_mark
    return int(mark.line) + 1, int(mark.column) + 1


_YAML_TAG = "tag:yaml.org,2002:"
KNOWN_TAGS = frozenset(
    {NUMBER}
    | {
        _YAML_TAG + name
        for name in ("null", "bool", "int", "float", "binary", "timestamp", "omap", "pairs", "set", "str")
        + ("seq", "map", "merge")
    }
)
"""The tags a manifest may carry: those of PyYAML's SafeLoader (``yaml.SafeLoader.yaml_constructors``), the
YAML 1.1 types Kubernetes' decoder knows too. Any other (``!!python/object/apply:…``, an application's
``!Ref``) means something kgitops cannot know and Kubernetes would silently drop: ``unknown_tag``."""


def unknown_tag(node: Node) -> LoadError:
    """``YAML009`` at the node: its tag, spelt as written (``!!python/object/apply:os.system``, ``!Ref``)."""
    tag = str(node.tag)
    shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
    m = node.start_mark
    return LoadError(
        "YAML009",
        f"the YAML tag {shown!r} is not a standard one (such as !!str or !!int): kgitops would not know what "
        "it means and Kubernetes ignores it; remove the tag",
        int(m.line) + 1,
        int(m.column) + 1,
    )


def _mark(exc: yaml.YAMLError) -> tuple[int, int]:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 0, 0
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 0, 0
    return int(mark.line) + 1, int(mark.column) + 1


class _Builder:
    """Turns a node tree into dicts/lists/scalars, counting nodes to stop alias bombs."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def build(self, node: Node, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            m = node.start_mark
            raise LoadError(
                "YAML005",
                "aliases expand to far more values than the file holds (an alias bomb?); refusing to expand",
                int(m.line) + 1,
                int(m.column) + 1,
            )
        cls = node.__class__
        if cls is ScalarNode:
            return self.scalar(node)  # type: ignore[arg-type]
        if depth >= MAX_DEPTH:
            raise too_deep(int(node.start_mark.line) + 1, int(node.start_mark.column) + 1)
        if cls is SequenceNode:
            if node.tag != SEQ and node.tag not in KNOWN_TAGS:
                raise unknown_tag(node)
            return [self.build(child, depth + 1) for child in node.value]
        if cls is MappingNode:
            if node.tag != MAP and node.tag not in KNOWN_TAGS:
                raise unknown_tag(node)
            return self.mapping(node, depth)  # type: ignore[arg-type]
        raise LoadError("YAML001", f"unsupported YAML node {cls.__name__}")  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == STR:
            return node.value
        if tag == NULL:
            return None
        if tag == BOOL:
            return node.value in TRUE
        if tag in (NUMBER, INT, FLOAT):
            return go_number(node.value) if node.value else node.value
        # the other standard tags (!!binary, !!timestamp): Kubernetes keeps the text
        if tag not in KNOWN_TAGS:
            raise unknown_tag(node)
        return node.value

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            m = node.start_mark
            raise LoadError("YAML001", "a mapping key must be a plain value", m.line + 1, m.column + 1)
        value = self.scalar(node)
        if isinstance(value, bool):  # as sigs.k8s.io/yaml turns keys into JSON object keys
            return "true" if value else "false"
        if value is None:
            return "null"
        return str(value)

    def mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        """A mapping's keys and values. YAML 1.1 merge keys (``<<: *base``) supply the keys the mapping does
        not set itself, wherever the ``<<`` stands; only a key written twice in the mapping is a duplicate.

        This runs for every mapping of every file: string keys and values, the common case, are taken
        without a call each."""
        out: dict[str, Any] = {}
        dropped: set[str] | None = None  # keys whose value was null: not in ``out``, but written all the same
        merged: dict[str, Any] | None = None
        for key_node, value_node in node.value:
            key_tag = key_node.tag
            if key_tag == STR and key_node.__class__ is ScalarNode:
                key = key_node.value
            elif key_tag == MERGE:
                if merged is None:
                    merged = {}
                self.merge(merged, value_node, depth)
                continue
            else:
                key = self.key(key_node)
            if key in out or (dropped is not None and key in dropped):
                m = key_node.start_mark
                raise LoadError(
                    "YAML008",
                    f"duplicate key {key!r} in one mapping (the API server rejects it; keep one)",
                    m.line + 1,
                    m.column + 1,
                )
            if value_node.tag == STR and value_node.__class__ is ScalarNode:
                self.budget -= 1
                if self.budget >= 0:
                    out[key] = value_node.value
                    continue
            value = self.build(value_node, depth + 1)
            if value is not None:
                out[key] = value
            elif dropped is None:
                dropped = {key}
            else:
                dropped.add(key)
        if merged:
            for key, value in merged.items():
                if key not in out and (dropped is None or key not in dropped):
                    out[key] = value
        return out

    def merge(self, merged: dict[str, Any], node: Node, depth: int) -> None:
        """Collect a merge key's mappings into ``merged``; in a list of them the first to set a key wins."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for src in sources:
            value = self.build(src, depth + 1)
            if not isinstance(value, dict):
                m = src.start_mark
                raise LoadError("YAML001", "a merge key (<<) needs a mapping", m.line + 1, m.column + 1)
            for k, v in value.items():
                merged.setdefault(k, v)


def iter_documents(data: bytes) -> Iterator[Document]:
    """The documents of a UTF-8 YAML stream, in order; empty documents are skipped (as kubectl does).

    Raises LoadError on the first problem; documents before it have been yielded already.
    """
    if needs_scan(data):
        refused = scan_events(data).refused
        if refused is not None:
            raise refused
    composer = Composer(data)
    builder = _Builder(len(data) + ALIAS_SLACK)
    index = 0
    try:
        while True:
            try:
                if not composer.check_node():
                    return
                node = composer.get_node()
            except yaml.YAMLError as exc:
                # a release of libyaml that limits nesting itself reports it as a syntax error
                scan = scan_events(data)
                refused = scan.refused or flow_too_deep(data, scan)
                if refused is not None:
                    raise refused from exc
                line, column = _mark(exc)
                problem, context = str(exc), None
                if isinstance(exc, yaml.MarkedYAMLError):
                    problem, context = exc.problem or problem, exc.context
                text = f"{context}: {problem}" if context else str(problem)
                raise LoadError("YAML001", f"YAML syntax error: {text}", line, column) from exc
            if node is None:
                continue
            if isinstance(node, SequenceNode):  # never an object: say so without building a huge list
                refused = deepest(node)
                if refused is not None:
                    raise refused
                index += 1
                yield Document(index, [], node)
                continue
            try:
                data_ = builder.build(node, 0)
            except RecursionError as exc:  # pragma: no cover - MAX_DEPTH keeps us far from it
                raise too_deep() from exc
            index += 1
            if data_ is None:
                continue
            yield Document(index, data_, node)
    finally:
        composer.dispose()
