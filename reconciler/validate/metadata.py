"""ObjectMeta as the API server checks it (field types and unknown fields are the schema's job)."""

from __future__ import annotations

from typing import Any

from reconciler.kuscia.labels import STAGE_LABELS, reserved_owner
from reconciler.validate import names
from reconciler.validate.schema import Issue

MAX_ANNOTATIONS_BYTES = 256 * 1024


def check_metadata(doc: dict[str, Any], cluster_scoped: bool) -> list[Issue]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return [] if "metadata" in doc else [Issue("META001", (), "`metadata.name` is required")]
    out: list[Issue] = []
    name = meta.get("name")
    if name is None:
        hint = " (`generateName` does not work with apply)" if "generateName" in meta else ""
        out.append(Issue("META001", ("metadata",), f"`metadata.name` is required{hint}"))
    elif isinstance(name, str):
        why = names.dns1123_subdomain(name)
        if why:
            out.append(Issue("META001", ("metadata", "name"), f"metadata.name {name!r} {why}"))
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and not cluster_scoped:
        why = names.dns1123_label(namespace)
        if why:
            out.append(Issue("META002", ("metadata", "namespace"), f"metadata.namespace {namespace!r} {why}"))
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            why = names.qualified_name(key)
            if why:
                out.append(
                    Issue("META003", ("metadata", "labels", key), f"label key {key!r} {why}", at_key=True)
                )
            if isinstance(value, str):
                why = names.label_value(value)
                if why:
                    out.append(
                        Issue("META003", ("metadata", "labels", key), f"label {key!r}: value {value!r} {why}")
                    )
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        size = 0
        for key, value in annotations.items():
            size += len(key) + (len(value) if isinstance(value, str) else 0)
            why = names.qualified_name(key)
            if why:
                out.append(
                    Issue(
                        "META003",
                        ("metadata", "annotations", key),
                        f"annotation key {key!r} {why}",
                        at_key=True,
                    )
                )
        if size > MAX_ANNOTATIONS_BYTES:
            out.append(
                Issue(
                    "META003",
                    ("metadata", "annotations"),
                    f"annotations total {size} bytes (at most {MAX_ANNOTATIONS_BYTES})",
                )
            )
    owners = meta.get("ownerReferences")
    if isinstance(owners, list):
        for i, ref in enumerate(owners):
            if not isinstance(ref, dict):
                continue
            missing = [f for f in ("apiVersion", "kind", "name", "uid") if not ref.get(f)]
            if missing:
                out.append(
                    Issue(
                        "META004",
                        ("metadata", "ownerReferences", i),
                        f"ownerReferences[{i}] lacks {', '.join(missing)} "
                        "(the API server needs apiVersion, kind, name and uid)",
                    )
                )
    return out


def reserved_key_issues(body: dict[str, Any]) -> list[Issue]:
    """META006: a label or annotation key of a manifest that Kuscia's controllers or kgitops write
    (``reconciler.kuscia.labels.reserved_owner``, the rule by which ``job update`` refuses the same keys): set
    in a manifest, kgitops's own would be overwritten at sync and Kuscia's would mislead its controllers (a
    ``job-uid`` on a job). META007 (a warning): a stage label (``kuscia.secretflow/job-stage``), which the
    object would be created with, as ``kubectl get -o yaml`` output carries it. Manifests only: the objects a
    backend stores carry these keys by right, so admission does not check them."""
    meta = body.get("metadata")
    if meta.__class__ is not dict or not ("labels" in meta or "annotations" in meta):
        return []
    out: list[Issue] = []
    for what in ("labels", "annotations"):
        items = meta.get(what)
        if not isinstance(items, dict):
            continue
        for key in items:
            if "/" not in key:  # every reserved key has a prefix
                continue
            owner = reserved_owner(str(key))
            if not owner:
                continue
            shown = f"{what[:-1]} key {key!r}"
            if key in STAGE_LABELS:
                text = (
                    f"{shown} is Kuscia's stage command: the job would be created with it; remove it, and "
                    "stop, suspend or restart the job with `kgitops job stop|suspend|restart`"
                )
                out.append(Issue("META007", ("metadata", what, key), text, at_key=True))
                continue
            why = (
                "its controllers set it on the tasks they create"
                if owner == "Kuscia"
                else "kgitops sets it (of kgitops.io/ keys only prune, on-change and priority are yours)"
            )
            text = f"{shown} belongs to {owner}: {why}; remove it from the manifest"
            out.append(Issue("META006", ("metadata", what, key), text, at_key=True))
    return out
