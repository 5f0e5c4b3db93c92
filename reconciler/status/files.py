"""Status files: ``<status-dir>/<namespace>/<kind>/<name>.yaml``, one per managed object.

The directory mirrors the current records: files are replaced atomically (temp file + rename) only when their
bytes change, and files of objects that are gone are removed. Names that could escape the directory are
refused.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import yaml

from reconciler.status.record import StatusRecord, relative_path, transitions


class StatusFiles:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.skipped: list[str] = []  # objects whose names cannot be status file names

    def read_all(self) -> dict[str, StatusRecord]:
        out: dict[str, StatusRecord] = {}
        if not self.root.is_dir():
            return out
        for path in sorted(self.root.rglob("*.yaml")):
            rel = path.relative_to(self.root).as_posix()
            if rel.count("/") != 2 or path.name.startswith("."):
                continue
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
                out[rel] = StatusRecord.from_dict(doc if isinstance(doc, dict) else {})
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue
        return out

    def write(self, records: list[StatusRecord]) -> list[str]:
        """Make the directory hold exactly ``records``; returns the transitions (empty: nothing written)."""
        old = self.read_all()
        new: dict[str, StatusRecord] = {}
        self.skipped = []
        for rec in records:
            rel = relative_path(rec.ref)
            if rel is None:
                self.skipped.append(str(rec.ref))
                continue
            new[rel] = rec
        root = self.root.resolve()
        for rel, rec in new.items():
            target = root / rel
            if root not in target.resolve().parents:
                self.skipped.append(str(rec.ref))
                continue
            data = rec.to_yaml()
            try:
                if target.read_bytes() == data:
                    continue
            except OSError:
                pass
            _atomic_write(target, data)
        for stale in root.glob("*/*/.*.tmp"):  # left by a writer killed mid-write
            with contextlib.suppress(OSError):
                stale.unlink()
        for rel in set(old) - set(new):
            with contextlib.suppress(OSError):
                (root / rel).unlink()
            _remove_empty_parents(root / rel, root)
        return transitions(old, new)


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # not ``*.yaml``: a writer killed between this and the rename leaves nothing a reader takes for a record
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent
