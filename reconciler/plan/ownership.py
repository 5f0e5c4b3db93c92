"""The labels and annotations by which kgitops marks what it owns, and the hash of a desired spec."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from reconciler.kuscia.labels import (
    ANNOTATION_ON_CHANGE,
    ANNOTATION_PRUNE,
    ANNOTATION_REVISION,
    ANNOTATION_SOURCE_ID,
    ANNOTATION_SOURCE_PATH,
    ANNOTATION_SPEC_HASH,
    ANNOTATION_STOPPED_AT,
    KUSCIA_PREFIX,
    LABEL_MANAGED_BY,
    LABEL_SOURCE,
    MANAGED_BY_VALUE,
)
from reconciler.model import Resource

# The keys, under the short names sync and plan use (their home is reconciler.kuscia.labels).
MANAGED_BY = LABEL_MANAGED_BY
SOURCE_LABEL = LABEL_SOURCE
SOURCE_ID = ANNOTATION_SOURCE_ID
SOURCE_PATH = ANNOTATION_SOURCE_PATH
SPEC_HASH = ANNOTATION_SPEC_HASH
REVISION = ANNOTATION_REVISION
PRUNE = ANNOTATION_PRUNE
ON_CHANGE = ANNOTATION_ON_CHANGE
STOPPED_AT = ANNOTATION_STOPPED_AT

OWNERSHIP_KEYS = frozenset({MANAGED_BY, SOURCE_LABEL, SOURCE_ID, SOURCE_PATH, SPEC_HASH, REVISION})


@functools.lru_cache(maxsize=64)
def source_label(source_id: str) -> str:
    """The value of the source label: asked for every live object of every plan, computed once per source."""
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
