"""What the ``kusciaapi`` backend must remember itself, because KusciaAPI cannot hold it: the inventory of
each source, and per job the spec, labels and annotations kgitops applied (KusciaAPI keeps no annotations,
rewrites the spec into its own form and cannot change a job's metadata after creation).

Files live under ``<state dir>/kusciaapi/<endpoint hash>/``; names are hashes, so no job or source name can
reach outside that directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from reconciler.backends.base import BackendError
from reconciler.model import ObjectRef


def _digest(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _read(path: Path, what: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BackendError(f"{path}: the {what} file is damaged ({exc}); delete it to start afresh") from None
    if not isinstance(doc, dict):
        raise BackendError(f"{path}: the {what} file is damaged (not a mapping); delete it to start afresh")
    return doc


class LocalRecords:
    def __init__(self, state_dir: str | Path, endpoint: str) -> None:
        self.root = Path(state_dir) / "kusciaapi" / _digest(endpoint, 12)
        self.endpoint = endpoint

    # -- inventories --------------------------------------------------------------------------------
    def _inventory_path(self, source_id: str) -> Path:
        return self.root / "inventory" / f"{_digest(source_id)}.json"

    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self._refs(self._inventory_path(source_id))

    def _refs(self, path: Path) -> set[ObjectRef]:
        doc = _read(path, "inventory") or {}
        try:
            return {
                ObjectRef(str(r["kind"]), str(r.get("namespace") or ""), str(r["name"]))
                for r in doc.get("refs") or ()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise BackendError(
                f"{path}: the inventory file is damaged ({exc}); delete it to start afresh"
            ) from None

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        rows = [{"kind": r.kind, "namespace": r.namespace, "name": r.name} for r in sorted(refs)]
        _write(
            self._inventory_path(source_id), {"source": source_id, "endpoint": self.endpoint, "refs": rows}
        )

    def all_inventoried(self) -> set[ObjectRef]:
        directory = self.root / "inventory"
        if not directory.is_dir():
            return set()
        return {r for path in sorted(directory.glob("*.json")) for r in self._refs(path)}

    # -- applied job metadata ---------------------------------------------------------------------------
    def _job_path(self, job_id: str) -> Path:
        return self.root / "jobs" / f"{_digest(job_id)}.json"

    def get_applied(self, job_id: str, create_time: str) -> dict[str, Any] | None:
        """What kgitops applied to this incarnation of the job (None if the job was re-created elsewhere)."""
        doc = _read(self._job_path(job_id), "job record")
        if doc is None or doc.get("job_id") != job_id or doc.get("create_time") != create_time:
            return None
        return doc

    def set_applied(
        self,
        job_id: str,
        create_time: str,
        spec: dict[str, Any],
        labels: dict[str, str],
        annotations: dict[str, str],
    ) -> None:
        _write(
            self._job_path(job_id),
            {
                "job_id": job_id,
                "create_time": create_time,
                "spec": spec,
                "labels": labels,
                "annotations": annotations,
            },
        )

    def applied_job_ids(self) -> set[str]:
        """The ids of every job this client created (and has not deleted) on the endpoint."""
        directory = self.root / "jobs"
        if not directory.is_dir():
            return set()
        ids = set()
        for path in sorted(directory.glob("*.json")):
            doc = _read(path, "job record") or {}
            if doc.get("job_id"):
                ids.add(str(doc["job_id"]))
        return ids

    def forget(self, job_id: str) -> None:
        self._job_path(job_id).unlink(missing_ok=True)
