"""libyaml's parser and composer, with plain scalars resolved as Kubernetes resolves them.

Kubernetes decodes YAML through sigs.k8s.io/yaml and go-yaml v2: ``yes``/``no``/``on``/``off``/``y``/``n``
are booleans, timestamps stay strings, and numbers follow Go's ``strconv`` (``reconciler.load.numbers``).
The resolver here tags each plain scalar once; the constructor in ``reconciler.load.documents`` turns the tag
into a value."""

from __future__ import annotations

import operator
import re
from typing import Any

from yaml.nodes import ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

try:  # the C parser is ~10x faster; the pure-Python one gives the same nodes
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer as _PyComposer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, _PyComposer):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _PyComposer.__init__(self)


STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
# Not a YAML tag: a plain scalar that go-yaml v2 may read as a number; ``go_number`` decides which.
NUMBER = "kgitops:number"
TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})


class KubeResolver(BaseResolver):
    """Plain scalars resolved as go-yaml v2 (and so Kubernetes, through sigs.k8s.io/yaml) resolves them:
    y/n/on/off are booleans, timestamps stay strings, and numbers follow Go's ``strconv`` (``go_number``),
    not PyYAML's YAML 1.1 regular expressions (no sexagesimal ``1:0:0`` integers, no unbounded ones)."""


KubeResolver.yaml_implicit_resolvers = {}
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag in (NULL, MERGE):
            KubeResolver.yaml_implicit_resolvers.setdefault(_first, []).append((_tag, _regexp))
KubeResolver.add_implicit_resolver(NUMBER, re.compile(r"^[-+.0-9]"), list("-+.0123456789"))
KubeResolver.add_implicit_resolver(
    BOOL,
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)


_IMPLICIT = KubeResolver.yaml_implicit_resolvers
_EMPTY_RESOLVERS = _IMPLICIT.get("", [])
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
# Plain scalars already resolved -> their tag. Keys and the values that repeat (domains, images, enums) are
# met in the first files, so a bounded memo answers most scalars of every later file with one lookup.
_MEMO: dict[str, str] = {}
_MEMO_SIZE = 4096


class Composer(_Parser, KubeResolver):  # type: ignore[misc,valid-type]
    """libyaml's composer with a resolver trimmed to what manifests need (no path resolvers): it runs once per
    scalar, so it is a measurable part of the cost of a file."""

    def __init__(self, stream: bytes) -> None:
        _Parser.__init__(self, stream)
        KubeResolver.__init__(self)

    # No path resolvers, so these two hooks, which libyaml's composer calls around every node, do nothing; a
    # builtin that takes the same arguments does nothing cheaper than a Python method (it is not bound: no
    # ``self``): ``operator.is_(node, index)``, ``tuple()``.
    descend_resolver = operator.is_  # type: ignore[assignment]
    ascend_resolver = tuple  # type: ignore[assignment]

    def resolve(
        self, kind: Any, value: Any, implicit: Any, _scalar: Any = ScalarNode, _memo: Any = _MEMO
    ) -> str:
        # (the defaults make these lookups local: this runs for every node of every file)
        if kind is _scalar:
            if not implicit[0]:
                return STR
            tag: str | None = _memo.get(value)
            if tag is None:
                tag = _resolve_plain(value)
                if len(_memo) < _MEMO_SIZE:
                    _memo[value] = tag
            return tag
        return SEQ if kind is SequenceNode else MAP


def _resolve_plain(value: str) -> str:
    for tag, regexp in _IMPLICIT.get(value[0], ()) if value else _EMPTY_RESOLVERS:
        if regexp.match(value):
            return str(tag)
    return STR


class LoadError(Exception):
    """A document cannot be turned into data; ``rule`` names the finding, line/column are 1-based (0:
    unknown)."""

    def __init__(self, rule: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line
        self.column = column
