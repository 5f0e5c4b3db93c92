"""The labels and annotations by which kgitops marks what it owns, and the hash of a desired spec."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.model import Resource

PREFIX = "kgitops.io/"
MANAGED_BY = PREFIX + "managed-by"
MANAGED_BY_VALUE = "kgitops"
SOURCE_LABEL = PREFIX + "source"  # a short hash of the source id (label values are limited to 63 chars)
SOURCE_ID = PREFIX + "source-id"
SOURCE_PATH = PREFIX + "source-path"
SPEC_HASH = PREFIX + "spec-hash"
REVISION = PREFIX + "revision"
# Set by users on a manifest:
PRUNE = PREFIX + "prune"  # "disabled": never pruned
ON_CHANGE = PREFIX + "on-change"  # "recreate": a changed job is deleted and created again

OWNERSHIP_KEYS = frozenset({MANAGED_BY, SOURCE_LABEL, SOURCE_ID, SOURCE_PATH, SPEC_HASH, REVISION})
KUSCIA_PREFIX = "kuscia.secretflow/"


def source_label(source_id: str) -> str:
    return hashlib.sha256(source_id.encode()).hexdigest()[:16]


def spec_hash(spec: dict[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_managed(obj: Resource) -> bool:
    return obj.labels.get(MANAGED_BY) == MANAGED_BY_VALUE


def owned_by(obj: Resource, source_id: str) -> bool:
    return is_managed(obj) and obj.labels.get(SOURCE_LABEL) == source_label(source_id)


def ownership_metadata(
    source_id: str, path: str, digest: str, revision: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) that sync adds to an object it creates or adopts."""
    labels = {MANAGED_BY: MANAGED_BY_VALUE, SOURCE_LABEL: source_label(source_id)}
    annotations = {SOURCE_ID: source_id, SOURCE_PATH: path, SPEC_HASH: digest, REVISION: revision}
    return labels, annotations


def user_keys(meta: dict[str, str]) -> dict[str, str]:
    """Labels/annotations that come from the manifest: not ours, not Kuscia's."""
    return {k: v for k, v in meta.items() if k not in OWNERSHIP_KEYS and not k.startswith(KUSCIA_PREFIX)}
