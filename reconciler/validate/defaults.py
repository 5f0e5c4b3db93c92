"""CRD defaults, applied the way the API server does, to get the effective object.

Defaults come from the generated schema itself (``scheduleMode: Strict``, ``maxParallelism: 1``,
``tolerable: false`` ...), so a CRD update that adds a default needs no code change here.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from reconciler.model import Resource
from reconciler.validate.schema import load_schema


def default_value(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``value`` with every missing field that has a schema default filled in (recursively)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        out = {}
        for key, sub in value.items():
            sub_schema = props.get(key, additional if isinstance(additional, dict) else {})
            out[key] = default_value(sub, sub_schema)
        for key, sub_schema in props.items():
            if key not in out and "default" in sub_schema:
                out[key] = copy.deepcopy(sub_schema["default"])
        return out
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [default_value(v, items) for v in value]
    return value


def apply_defaults(resource: Resource) -> Resource:
    """The effective object: a new Resource whose spec carries every CRD default; the input is not changed."""
    schema = load_schema(resource.kind)
    spec_schema = (schema.get("properties") or {}).get("spec") or {}
    return replace(resource, spec=default_value(resource.spec, spec_schema))
