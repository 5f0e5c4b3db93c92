"""A party's private storage: CSV tables under ``$KGITOPS_STORAGE_DIR`` and a small DomainData registry.

Kuscia keeps a DomainData object per table (an id, the datasource, a ``relative_uri`` under the datasource's
directory); SecretFlow resolves ``sf_input_ids`` through it and registers each output under its
``sf_output_ids`` entry. These example apps keep the same records as JSON files, ``.domaindata/<id>.json``, in
the directory of the table they describe.

Look-ups go from the directory a task writes its outputs to up to the storage root, the nearest record
winning. The example jobs write each job's outputs under a directory named after the job
(``sf_output_uris`` like ``job-best-effort-linear/psi-output.csv``), so jobs running at the same time never
overwrite each other's outputs, and a job's ``train_test_split`` finds that job's own ``psi-output``.
Tables a user registers at the root (``alice-table``) are visible to every job.
"""

from __future__ import annotations

import csv
import json
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from taskconfig import TaskError

REGISTRY_DIR = ".domaindata"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class DomainData:
    id: str
    relative_uri: str  # under the storage root, '/'-separated
    columns: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # the id columns, when known (PSI outputs record theirs)
    author: str = ""  # the task that wrote it
    attributes: dict[str, str] = field(default_factory=dict)


def check_domain(name: str) -> str:
    if not _DOMAIN.match(name):
        raise TaskError(f"domain {name!r} is not a DNS-1123 label")
    return name


def _check_id(data_id: str, what: str) -> str:
    if not _ID.match(data_id):
        raise TaskError(
            f"{what} {data_id!r} is not a valid data id (letters, digits, '.', '_', '-'; at most 128)"
        )
    return data_id


def _write_atomic(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write through a temporary file and rename it, so no reader ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Storage:
    """One domain's data directory (``<state-dir>/storage/<domain>/data``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_env(cls) -> Storage:
        root = os.environ.get("KGITOPS_STORAGE_DIR", "")
        if not root:
            raise TaskError(
                "KGITOPS_STORAGE_DIR is not set: run this app through the kgitops embedded engine"
            )
        path = Path(root)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    # --- paths -------------------------------------------------------------------------------------------
    def path(self, relative_uri: str, what: str) -> Path:
        """The file a URI names; a URI that would leave the storage directory is refused."""
        parts = relative_uri.split("/")
        if (
            not relative_uri
            or "\\" in relative_uri
            or relative_uri.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or any(p.startswith(".") for p in parts)
        ):
            raise TaskError(
                f"{what} {relative_uri!r} must be a relative path inside the party's storage directory "
                "(no absolute path, no '..', no hidden names), e.g. \"job-x/psi-output.csv\""
            )
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self.root):
            raise TaskError(f"{what} {relative_uri!r} leads outside the storage directory")
        return path

    @staticmethod
    def scope_of(relative_uri: str) -> str:
        return posixpath.dirname(relative_uri)

    # --- DomainData registry ---------------------------------------------------------------------------
    def _record_path(self, scope: str, data_id: str) -> Path:
        base = self.root.joinpath(*scope.split("/")) if scope else self.root
        return base / REGISTRY_DIR / f"{data_id}.json"

    def register(self, data: DomainData) -> None:
        _check_id(data.id, "output id")
        self.path(data.relative_uri, "output uri")
        record = self._record_path(self.scope_of(data.relative_uri), data.id)
        text = json.dumps(asdict(data), indent=2, sort_keys=True) + "\n"
        _write_atomic(record, lambda f: f.write(text))

    def lookup(self, data_id: str, scope: str) -> DomainData | None:
        """The nearest record for ``data_id``: in ``scope``, then each parent directory, then the root."""
        _check_id(data_id, "input id")
        while True:
            record = self._record_path(scope, data_id)
            if record.is_file():
                return self._load_record(record)
            if not scope:
                return None
            scope = posixpath.dirname(scope)

    def _load_record(self, record: Path) -> DomainData:
        try:
            doc = json.loads(record.read_text(encoding="utf-8"))
            return DomainData(
                id=str(doc["id"]),
                relative_uri=str(doc["relative_uri"]),
                columns=tuple(doc.get("columns") or ()),
                keys=tuple(doc.get("keys") or ()),
                author=str(doc.get("author") or ""),
                attributes={str(k): str(v) for k, v in (doc.get("attributes") or {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise TaskError(f"{record}: not a readable DomainData record; delete it or fix it") from None

    # --- tables ------------------------------------------------------------------------------------------
    def read_table(self, data: DomainData) -> tuple[list[str], list[list[str]]]:
        path = self.path(data.relative_uri, f"relative_uri of {data.id}")
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if not header:
                    raise TaskError(f"{path}: the table {data.id} is empty (a header row is needed)")
                rows = []
                for row in reader:
                    if not row:
                        continue
                    if len(row) != len(header):
                        raise TaskError(
                            f"{path}:{reader.line_num}: {len(row)} columns, but the header has {len(header)}"
                        )
                    rows.append(row)
        except FileNotFoundError:
            raise TaskError(f"{path}: the file of table {data.id} does not exist") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TaskError(f"{path}: cannot read the table {data.id} ({exc})") from None
        return header, rows

    def write_table(self, relative_uri: str, header: list[str], rows: list[list[str]]) -> Path:
        path = self.path(relative_uri, "output uri")

        def write(f: TextIO) -> None:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

        _write_atomic(path, write)
        return path


def ensure_example_table(storage: Storage, domain: str, workspace: str | None) -> DomainData | None:
    """Example-only convenience: register ``<domain>-table`` from ``$KGITOPS_WORKSPACE/data/<domain>.csv``.

    In Kuscia a party registers its tables (DomainData) before running a job. So that the examples run
    from a fresh clone with no set-up step, a party whose storage has no ``<domain>-table`` yet copies its
    own CSV from the examples' ``data/`` directory into its storage and registers it. A real deployment
    registers its own tables and never relies on this; an existing registration or file is never
    overwritten.
    """
    table_id = f"{check_domain(domain)}-table"
    existing = storage.lookup(table_id, "")
    if existing is not None or not workspace:
        return existing
    source = Path(workspace) / "data" / f"{domain}.csv"
    if not source.is_file():
        return None
    target = storage.path(f"{domain}.csv", "example table")
    if not target.exists():

        def copy(f: TextIO) -> None:
            with source.open(encoding="utf-8", newline="") as src:
                shutil.copyfileobj(src, f)

        _write_atomic(target, copy)
    with target.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    data = DomainData(
        id=table_id,
        relative_uri=f"{domain}.csv",
        columns=tuple(header),
        author="example set-up",
        attributes={"copied_from": str(source)},
    )
    storage.register(data)
    return data
