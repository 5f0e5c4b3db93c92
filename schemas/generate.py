"""Generate the JSON Schemas kgitops validates against from Kuscia's CRDs.

Usage: ``python schemas/generate.py ../shared/reference/crds`` (writes ``schemas/<kind>.json`` beside this
script).

What the generator does to each CRD's ``openAPIV3Schema``, and why:
- drops ``description`` prose: it is large and the validator never shows it;
- keeps structure, types, constraints, defaults and the ``x-kubernetes-*`` markers the validator reads;
- adds ``additionalProperties: false`` to every object that lists its ``properties`` without saying what
  else it allows, because the API server's strict field validation rejects (and its pruning silently drops)
  such fields;
- replaces the CRD's bare ``metadata: {type: object}`` with Kubernetes' ObjectMeta fields, so unknown
  metadata fields are caught too (name/label syntax is checked by the metadata rules, which give better
  messages). The output is deterministic (sorted keys), so a test can prove the checked-in files are up to
  date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CRD_FILES = {
    "kusciajob": "kuscia.secretflow_kusciajobs.yaml",
    "kusciatask": "kuscia.secretflow_kusciatasks.yaml",
    "appimage": "kuscia.secretflow_appimages.yaml",
}
DROP_KEYS = frozenset({"description"})

_STR = {"type": "string"}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": _STR,
        "generateName": _STR,
        "namespace": _STR,
        "selfLink": _STR,
        "uid": _STR,
        "resourceVersion": _STR,
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": _STR,
        "deletionTimestamp": _STR,
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
        "finalizers": {"type": "array", "items": _STR},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "apiVersion": _STR,
                    "kind": _STR,
                    "name": _STR,
                    "uid": _STR,
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
    },
}


def clean(node: Any) -> Any:
    """Drop prose, recurse, and close objects that list their properties."""
    if isinstance(node, list):
        return [clean(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: clean(v) for k, v in node.items() if k not in DROP_KEYS}
    if "properties" in node:
        # property names are data, not schema keywords: never drop a field called "description"
        out["properties"] = {name: clean(sub) for name, sub in node["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def schema_for(crd: dict[str, Any]) -> dict[str, Any]:
    names = crd["spec"]["names"]
    version = next(v for v in crd["spec"]["versions"] if v.get("storage", True))
    body = clean(version["schema"]["openAPIV3Schema"])
    body["properties"]["metadata"] = OBJECT_META
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{names['kind']} ({crd['spec']['group']}/{version['name']})",
        "x-kgitops-scope": crd["spec"]["scope"],
        **body,
    }


def render(crd_dir: Path) -> dict[str, str]:
    """File name -> JSON text, for every kind."""
    out = {}
    for stem, crd_file in CRD_FILES.items():
        crd = yaml.safe_load((crd_dir / crd_file).read_text(encoding="utf-8"))
        out[f"{stem}.json"] = json.dumps(schema_for(crd), indent=1, sort_keys=True) + "\n"
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python schemas/generate.py CRD_DIR", file=sys.stderr)
        return 2
    here = Path(__file__).resolve().parent
    for name, text in render(Path(argv[1])).items():
        (here / name).write_text(text, encoding="utf-8")
        print(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
