"""The status writers' memo: what lets a fresh process skip the records that did not change.

A writer that has just started (after a restart, or each CLI ``sync``) remembers nothing, and without help
would render all records to YAML to learn which changed. The memo is a JSON file kept next to what it
describes: per status file path, a digest of the record last written there (``record_digest``) and what that
record became (the blob id on the status branch; the file's stamp and byte digest in a status directory).
A record whose digest is the memo's, at a path the branch or the directory still holds exactly as the memo
says (the parent tree's entry, the file's stamp), renders to the same bytes: it is neither dumped nor written.

It holds digests, blob ids and stamps only, never a record's text (the status files' memo adds each record's
transition label as a number, ``reconciler.status.files``). Stale, corrupt, partial or foreign memos
are harmless: a file that does not parse or carries another ``format``, PyYAML version or rendering is
ignored, and an entry is only believed where the branch or the directory agrees with it, so a wrong memo
costs time, never a wrong result. It is written atomically (temp file + rename), only when it changed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import marshal
import os
from pathlib import Path
from typing import Any

import yaml

from reconciler.model import JobPhase, ObjectRef, TaskPhase
from reconciler.model.objects import KUSCIA_JOB
from reconciler.status.atomic import replace_file
from reconciler.status.record import StatusRecord

FORMAT = "kgitops.io/status-memo/v1"  # bump when the entries' meaning changes


def record_digest(record: StatusRecord) -> bytes | None:
    """16 bytes of BLAKE2b over the record's fields in ``marshal`` format 2 (C speed; that format has no
    references, so the bytes depend on the values alone, not on which objects happen to be shared). Equal
    digests mean equal fields (a dict's key order aside, which only makes a digest differ). None when a field
    holds something ``marshal`` cannot write: such a record is not memoised."""
    r = record
    fields = (r.ref.kind, r.ref.namespace, r.ref.name, r.sync_state, r.revision, r.source_path, r.reason,
              r.message, r.live)
    try:
        data = marshal.dumps(fields, 2)
    except ValueError:
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


@functools.cache
def rendering() -> str:
    """A digest of how records are rendered today (a sample record with every field, through ``to_yaml``):
    a memo written by a kgitops or a PyYAML that renders records otherwise is not believed."""
    sample = StatusRecord(
        ObjectRef(KUSCIA_JOB, "ns", "job"), "Synced", "0" * 40, "jobs/job.yaml", "Reason", "a message",
        {
            "phase": str(JobPhase.RUNNING),
            "tasks": {"t": str(TaskPhase.SUCCEEDED)},
            "approvals": [{"domain": "bob", "ok": True}],
        },
    )
    return hashlib.blake2b(sample.to_yaml(), digest_size=16).hexdigest()


def load(path: Path) -> dict[str, Any]:
    """The memo's entries by status file path; empty when the file is missing, unreadable, not JSON, or of
    another format, PyYAML version or rendering. Entries are not checked here: each writer checks the shape
    of the entries it uses and skips the others."""
    entries: dict[str, Any] = load_document(path).get("records", {})
    return entries


def load_document(path: Path) -> dict[str, Any]:
    """The whole memo: its entries (``records``, see ``load``) and the fields its writer added (``save``);
    empty when ``load`` finds no entries."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("yaml") != yaml.__version__:
        return {}
    if doc.get("rendering") != rendering() or not isinstance(doc.get("records"), dict):
        return {}
    return doc


def save(path: Path, entries: dict[str, list[Any]], **fields: str) -> None:
    """Replace the memo at ``path`` with ``entries`` and the writer's own ``fields`` (digests, never a
    record's text) (temp file ``.<name>.<pid>.tmp`` + rename, mode 0600), creating its directory. A memo that
    cannot be written is skipped: it only saves time."""
    doc = {**fields, "format": FORMAT, "yaml": yaml.__version__, "rendering": rendering(), "records": entries}
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("ascii")
    with contextlib.suppress(OSError):
        replace_file(path, data, os.getpid())
