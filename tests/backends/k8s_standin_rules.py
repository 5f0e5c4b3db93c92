"""What the stand-in API server shares with a real one, as plain functions: label selectors, JSON merge patch,
and the pruning of fields a CRD's structural schema does not declare."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from reconciler.validate.schema import load_schema

# Plural -> the kind whose structural schema prunes it (Kuscia's CRDs, as kgitops's schemas/ hold them).
PRUNED_KINDS = {"kusciajobs": "KusciaJob", "kusciatasks": "KusciaTask", "appimages": "AppImage"}


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """Equality-based selector terms: (key, op, value) with op in =, !=, exists, !exists."""
    terms: list[tuple[str, str, str]] = []
    for raw in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in raw:
            k, v = raw.split("!=", 1)
            terms.append((k.strip(), "!=", v.strip()))
        elif "==" in raw or "=" in raw:
            k, v = raw.split("==", 1) if "==" in raw else raw.split("=", 1)
            terms.append((k.strip(), "=", v.strip()))
        elif raw.startswith("!"):
            terms.append((raw[1:].strip(), "!exists", ""))
        else:
            terms.append((raw, "exists", ""))
    return terms


def matches(labels: dict[str, str], terms: list[tuple[str, str, str]]) -> bool:
    for k, op, v in terms:
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "!exists" and k in labels:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


@cache
def _schema(kind: str) -> dict[str, Any]:
    return load_schema(kind)


def _prune(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            return {k: _prune(v, props[k]) for k, v in value.items() if k in props}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {k: _prune(v, extra) for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(v, schema["items"]) for v in value]
    return value


def prune_unknown(plural: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the fields its CRD's structural schema does not declare, as the API server stores it
    (Kubernetes: "Field pruning" of CustomResourceDefinitions, apiextensions.k8s.io/v1). Metadata is kept."""
    kind = PRUNED_KINDS.get(plural)
    if kind is None:
        return doc
    props = _schema(kind)["properties"]
    return {
        k: (v if k in ("metadata", "apiVersion", "kind") else _prune(v, props[k]))
        for k, v in doc.items()
        if k in props
    }
