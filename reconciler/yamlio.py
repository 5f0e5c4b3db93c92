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

from typing import Any

import yaml

_C_DUMPER = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper
_C_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


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
    dumper = _C_DUMPER if plain_ascii(data) else yaml.SafeDumper
    return yaml.dump(data, Dumper=dumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True)


def safe_load(data: str | bytes) -> Any:
    """``yaml.safe_load(data)`` by libyaml's parser. Raises ``yaml.YAMLError`` when ``data`` is not YAML."""
    return yaml.load(data, Loader=_C_LOADER)
