"""YAML bytes -> plain documents that remember where every value came from, read as Kubernetes reads them.

Kubernetes decodes YAML 1.1 (``yes``/``no``/``on``/``off``/``y``/``n`` are booleans, timestamps stay
strings) and drops a null value of a field that is not nullable (no Kuscia CRD marks one nullable), so both
happen here once, for every consumer. Manifests are untrusted: alias expansion, nesting depth and duplicate
keys are bounded or reported instead of exhausting memory, the C stack or the reader's patience. libyaml
(``CParser``) composes the node tree; the Python constructor below is the only per-value work."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

try:  # the C parser is ~10x faster; the pure-Python one gives the same nodes
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


# A value nested deeper than this is refused; real manifests stay under 20. It also keeps recursion in the
# constructor (and libyaml's composer, which crashes the process past ~50k levels) far from any limit.
MAX_DEPTH = 100
# libyaml recurses while composing; this many nesting-capable bytes cannot reach a dangerous depth.
_SAFE_OPENERS = 20_000
# Each node costs at least one byte of input unless an alias repeats it; a budget of input size plus this
# slack
# catches a billion-laughs document after a few thousand copies instead of after a few gigabytes.
ALIAS_SLACK = 10_000

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})


class _KubeResolver(BaseResolver):
    """PyYAML's YAML 1.1 resolver as go-yaml v2 (and so Kubernetes) resolves: y/n are booleans, no
    timestamps."""


_KubeResolver.yaml_implicit_resolvers = {}
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag in (INT, FLOAT, NULL, MERGE):
            _KubeResolver.yaml_implicit_resolvers.setdefault(_first, []).append((_tag, _regexp))
_KubeResolver.add_implicit_resolver(
    BOOL,
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)


_IMPLICIT = _KubeResolver.yaml_implicit_resolvers
_EMPTY_RESOLVERS = _IMPLICIT.get("", [])
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"


class _Composer(_Parser, _KubeResolver):  # type: ignore[misc,valid-type]
    """libyaml's composer with a resolver trimmed to what manifests need (no path resolvers): it runs once per
    scalar, so it is a measurable part of the cost of a file."""

    def __init__(self, stream: bytes) -> None:
        _Parser.__init__(self, stream)
        _KubeResolver.__init__(self)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[0], ()) if value else _EMPTY_RESOLVERS:
                    if regexp.match(value):
                        return str(tag)
            return STR
        return SEQ if kind is SequenceNode else MAP


_NUMBERS = yaml.constructor.SafeConstructor()


class LoadError(Exception):
    """A document cannot be turned into data; ``rule`` names the finding, line/column are 1-based (0:
    unknown)."""

    def __init__(self, rule: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line
        self.column = column


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


def _mark(exc: yaml.YAMLError) -> tuple[int, int]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return 0, 0
    return int(mark.line) + 1, int(mark.column) + 1


def _max_depth_events(data: bytes) -> tuple[int, int, int]:
    """Nesting depth by libyaml's iterative event stream, stopping as soon as it passes MAX_DEPTH."""
    parser = _Composer(data)
    depth = 0
    try:
        while True:
            event = parser.get_event()
            if event is None:
                return 0, 0, 0
            name = type(event).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_DEPTH:
                    m: Any = event.start_mark
                    return depth, int(m.line) + 1, int(m.column) + 1
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
    finally:
        parser.dispose()


def _too_deep(line: int = 0, column: int = 0) -> LoadError:
    return LoadError("YAML006", f"nesting deeper than {MAX_DEPTH} levels; flatten the document", line, column)


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
            raise _too_deep(int(node.start_mark.line) + 1, int(node.start_mark.column) + 1)
        if cls is SequenceNode:
            return [self.build(child, depth + 1) for child in node.value]
        if cls is MappingNode:
            return self.mapping(node, depth)  # type: ignore[arg-type]
        raise LoadError("YAML001", f"unsupported YAML node {cls.__name__}")  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == STR:
            return node.value
        if tag == NULL:
            return None
        if tag == BOOL:
            return node.value in _TRUE
        try:
            if tag == INT:
                return _NUMBERS.construct_yaml_int(node)
            if tag == FLOAT:
                return _NUMBERS.construct_yaml_float(node)
        except ValueError as exc:
            m = node.start_mark
            raise LoadError("YAML001", f"bad number {node.value!r}: {exc}", m.line + 1, m.column + 1) from exc
        # explicit tags (!!binary, !!timestamp, !custom): Kubernetes keeps the text
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
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                self.merge(out, seen, value_node, depth)
                continue
            key = self.key(key_node)
            if key in seen:
                m = key_node.start_mark
                raise LoadError(
                    "YAML008",
                    f"duplicate key {key!r} in one mapping (the API server rejects it; keep one)",
                    m.line + 1,
                    m.column + 1,
                )
            seen.add(key)
            value = self.build(value_node, depth + 1)
            if value is not None:
                out[key] = value
        return out

    def merge(self, out: dict[str, Any], seen: set[str], node: Node, depth: int) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for src in sources:
            value = self.build(src, depth + 1)
            if not isinstance(value, dict):
                m = src.start_mark
                raise LoadError("YAML001", "a merge key (<<) needs a mapping", m.line + 1, m.column + 1)
            for k, v in value.items():
                if k not in seen:
                    seen.add(k)
                    out[k] = v


def _openers(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{") + data.count(b"- ") + data.count(b":") + data.count(b"?")


def iter_documents(data: bytes) -> Iterator[Document]:
    """The documents of a UTF-8 YAML stream, in order; empty documents are skipped (as kubectl does).

    Raises LoadError on the first problem; documents before it have been yielded already.
    """
    if _openers(data) > _SAFE_OPENERS:
        depth, line, column = _max_depth_events_safe(data)
        if depth > MAX_DEPTH:
            raise _too_deep(line, column)
    composer = _Composer(data)
    builder = _Builder(len(data) + ALIAS_SLACK)
    index = 0
    try:
        while True:
            try:
                if not composer.check_node():
                    return
                node = composer.get_node()
            except yaml.YAMLError as exc:
                line, column = _mark(exc)
                problem = getattr(exc, "problem", None) or str(exc)
                context = getattr(exc, "context", None)
                text = f"{context}: {problem}" if context else str(problem)
                raise LoadError("YAML001", f"YAML syntax error: {text}", line, column) from exc
            if node is None:
                continue
            if isinstance(node, SequenceNode):  # never an object: say so without building a huge list
                index += 1
                yield Document(index, [], node)
                continue
            try:
                data_ = builder.build(node, 0)
            except RecursionError as exc:  # pragma: no cover - MAX_DEPTH keeps us far from it
                raise _too_deep() from exc
            index += 1
            if data_ is None:
                continue
            yield Document(index, data_, node)
    finally:
        composer.dispose()


def _max_depth_events_safe(data: bytes) -> tuple[int, int, int]:
    try:
        return _max_depth_events(data)
    except yaml.YAMLError:
        return 0, 0, 0  # the composer will report the syntax error with its position
