"""PyYAML's safe dumper and loader, with libyaml's C emitter and parser where they give the same result.

libyaml's emitter and parser (``yaml.CSafeDumper``, ``yaml.CSafeLoader``, present when PyYAML was built with
libyaml: ``yaml.__with_libyaml__``) are several times faster than the pure-Python ones; the representer and
resolver stay PyYAML's. The two emitters write the same text except for strings that are not printable ASCII
on one line: libyaml folds long double-quoted strings at other places and measures non-ASCII text in bytes
(e.g. the 128-character limit of a simple key). A document holding such a string is dumped by the pure
emitter, so the bytes never depend on which emitter ran. For bulk work (status records, ``-o yaml`` lists);
manifests are read by ``reconciler.load``, which keeps its own composer.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import yaml

_C_DUMPER = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper
_C_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def plain_ascii(value: Any) -> bool:
    """True when every string in ``value`` (mapping keys included) is printable ASCII without a line break:
    the text libyaml's emitter writes exactly as PyYAML's does."""
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if isinstance(value, dict):
        return all(plain_ascii(k) and plain_ascii(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(plain_ascii(v) for v in value)
    return True


def safe_dump(data: Any, sort_keys: bool) -> str:
    """``yaml.safe_dump(data, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True)``: the same
    text, by libyaml's emitter when ``data`` allows (see the module)."""
    node = _node(data, sort_keys, set())
    if node is None:  # not JSON-like plain ASCII: PyYAML's representer, and libyaml's emitter if it can
        dumper = _C_DUMPER if plain_ascii(data) else yaml.SafeDumper
        opts: dict[str, Any] = {"default_flow_style": False, "allow_unicode": True}
        return yaml.dump(data, Dumper=dumper, sort_keys=sort_keys, **opts)
    stream = io.StringIO()
    emitter = _C_DUMPER(stream, default_flow_style=False, allow_unicode=True, sort_keys=sort_keys)
    try:  # what ``yaml.dump`` does, with our node in place of the representer's
        emitter.open()
        emitter.serialize(node)
        emitter.close()
    finally:
        emitter.dispose()
    return stream.getvalue()


def _node(value: Any, sort_keys: bool, containers: set[int]) -> yaml.Node | None:
    """The node ``yaml.SafeDumper``'s representer makes of ``value`` (block style), made directly (several
    times faster) for JSON-like data in plain ASCII (``plain_ascii``): str, int, bool, None, dict and list, no
    container met twice (the representer would make an alias). None for anything else."""
    kind = type(value)
    if kind is str:
        return yaml.ScalarNode(_STR, value) if value.isascii() and value.isprintable() else None
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if value else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(value))
    if value is None:
        return yaml.ScalarNode(_NULL, "null")
    if kind is dict:
        if id(value) in containers:
            return None
        containers.add(id(value))
        items = list(value.items())
        if sort_keys:
            with contextlib.suppress(TypeError):  # keys that do not compare stay in their order, as there
                items = sorted(items)
        pairs = []
        for k, v in items:
            key, val = _node(k, sort_keys, containers), _node(v, sort_keys, containers)
            if key is None or val is None:
                return None
            pairs.append((key, val))
        return yaml.MappingNode(_MAP, pairs, flow_style=False)
    if kind is list:
        if id(value) in containers:
            return None
        containers.add(id(value))
        nodes = []
        for v in value:
            if (child := _node(v, sort_keys, containers)) is None:
                return None
            nodes.append(child)
        return yaml.SequenceNode(_SEQ, nodes, flow_style=False)
    return None


def safe_load(data: str | bytes) -> Any:
    """``yaml.safe_load(data)`` by libyaml's parser. Raises ``yaml.YAMLError`` when ``data`` is not YAML."""
    return yaml.load(data, Loader=_C_LOADER)
