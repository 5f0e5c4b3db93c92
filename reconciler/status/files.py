"""Status files: ``<status-dir>/<namespace>/<kind>/<name>.yaml``, one per managed object.

The directory mirrors the current records: files are replaced atomically (temp file + rename) only when their
bytes change, and files of objects that are gone are removed. Names that could escape the directory are
refused. A name too long for a file name is shortened to ``<prefix>_<digest>.yaml``
(``reconciler.filenames``; the record inside names the object). A file that cannot be written (a full disk,
a directory without write permission) is one failed record (``failed``), never the end of the write: the
other records are written all the same.

A write costs what changed: the writer remembers each record it wrote or found on disk with the file's
identity (inode, size, mtime in ns), so an unchanged record whose file is as it was left is neither dumped nor
read again (``watch``). A new writer (a fresh process) starts from the memo the last writer left in the
directory (``.kgitops-status-memo.json``: per file, the record's digest, the file's stamp and byte digest, and
the record's transition label as a number; ``reconciler.status.memo``): a record whose digest is the memo's,
at a file whose stamp is the memo's, is neither dumped nor read; a changed record's transition line takes the
old label from the memo, so the old file is not read either; without a memo entry it compares the bytes it
would write with the file's.

What counts as an edit by someone else: any change of a file's inode, size or mtime (an editor saving in place
or by rename, a ``touch``, a copy over it) and any file added, removed or renamed. Every write stats every
status file (one ``fstatat`` each, through its directory's descriptor); the directory's own mtime is not
enough, as an in-place edit leaves it alone. A file edited by someone else no longer matches what the writer
remembers, and is compared and rewritten. When every file is as the memo says and every record's digest is the
memo's, a fresh writer is done after one pass over the records' digests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from reconciler.filenames import is_shortened
from reconciler.model import ObjectRef
from reconciler.model.phases import JobPhase
from reconciler.status import memo
from reconciler.status.atomic import replace_file
from reconciler.status.record import (
    CLUSTER_SCOPE_DIR,
    StatusRecord,
    SyncState,
    label,
    label_of,
    relative_path,
    transition_line,
)

_Stamp = tuple[int, int, int]  # (st_ino, st_size, st_mtime_ns) of a file
MEMO_FILE = ".kgitops-status-memo.json"  # in the status directory; not a record (a file, not a directory)

# A record's transition label (``record.label_of``) in the memo, as a number, never as text: the index of its
# sync state and of its phase in these vocabularies (kgitops' sync states; Kuscia's job phases, which hold the
# task phases, ``reconciler.model.phases``). A record with another phase gets no number, and its old file is
# read when its line is needed. The memo names the vocabulary's digest; numbers of another are not believed.
_SYNC_STATES = (SyncState.SYNCED, SyncState.OUT_OF_SYNC, SyncState.HELD, SyncState.FAILED, SyncState.STOPPING)
_PHASES = ("", *(str(p) for p in JobPhase))
_LABEL_CODES = {
    (s, p): i * len(_PHASES) + j for i, s in enumerate(_SYNC_STATES) for j, p in enumerate(_PHASES)
}
_LABELS = {code: label_of(s, p) for (s, p), code in _LABEL_CODES.items()}
_VOCABULARY = hashlib.blake2b(json.dumps([_SYNC_STATES, _PHASES]).encode(), digest_size=8).hexdigest()


class _Seen(NamedTuple):  # a tuple: one is made per record a fresh writer meets
    """A file as this writer left it (or found it): the record it holds (None: known from the memo only), its
    stamp, a digest of its bytes, the record's digest (``memo.record_digest``) and its label's number
    (``_LABELS``; None: not one of them)."""

    record: StatusRecord | None
    stamp: _Stamp
    digest: str  # hex, as in the memo
    record_digest: str | None
    label: int | None


@dataclass(frozen=True)
class _Scan:
    """What the directory holds: each status file's stamp, those that are symlinks, and temporary files left
    by killed writers."""

    files: dict[str, _Stamp]
    symlinks: set[str]
    leftovers: list[Path]


class StatusFiles:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.skipped: list[str] = []  # objects whose names cannot be status file names
        self.failed: list[str] = []  # records whose files could not be written, each with the reason
        self._seen: dict[str, _Seen] = {}  # path → the file as this writer left it
        self._memo: dict[str, Any] | None = None  # the memo's entries not yet used (None: not read yet)
        self._memo_labels = False  # the memo's label numbers are of our vocabulary
        self._memo_dirty = False  # ``_seen`` differs from the memo on disk

    def read_all(self) -> dict[str, StatusRecord]:
        """Every status file that parses, by relative path."""
        out: dict[str, StatusRecord] = {}
        for rel in sorted(self._scan(self.root).files):
            record = _read_record(self.root / rel)
            if record is not None:
                out[rel] = record
        return out

    def write(self, records: list[StatusRecord]) -> list[str]:
        """Make the directory hold exactly ``records``; returns the transitions (empty: nothing written).

        Only files whose bytes change are written; an unchanged record whose file is as this writer left it
        is not even dumped. Files of objects no longer in ``records`` are removed (a file that does not parse
        as YAML is left alone). A record whose file cannot be written is left out and said in ``failed``
        (``cannot write the status of KIND/NS/NAME to PATH: REASON``); its transition comes with the write
        that succeeds."""
        new: dict[str, StatusRecord] = {}
        self.skipped = []
        self.failed = []
        for rec in records:
            rel = relative_path(rec.ref)
            if rel is None:
                self.skipped.append(str(rec.ref))
                continue
            new[rel] = rec
        root = self.root.resolve()
        if self._memo is None:
            doc = memo.load_document(root / MEMO_FILE)
            self._memo = doc.get("records", {})
            self._memo_labels = doc.get("labels") == _VOCABULARY
        scan = self._scan(root)
        digests: dict[str, str | None] = {}  # record digests (hex), as computed by the check below
        if not self._seen and self._as_the_memo_says(scan, new, digests):
            return []  # the memo's records, every file as the memo's writer left it
        pid = os.getpid()  # the temp files' names, asked once (a system call each time)
        inside: dict[str, bool] = {}  # per directory: does it resolve inside the root (no symlink out)?
        lines: dict[str, str] = {}  # path → its transition line
        for rel, rec in new.items():
            directory = rel.rpartition("/")[0]
            if directory not in inside:
                resolved = (root / directory).resolve()
                inside[directory] = resolved == root or root in resolved.parents
            if not inside[directory] or (rel in scan.symlinks and root not in (root / rel).resolve().parents):
                self.skipped.append(str(rec.ref))
                if self._seen.pop(rel, None) is not None:
                    self._memo_dirty = True  # not ours to vouch for any more
                continue
            stamp = scan.files.get(rel)
            seen = self._seen.get(rel)
            if seen is None and self._memo:
                seen = _from_memo(self._memo.pop(rel, None), self._memo_labels)
            if seen is not None and seen.stamp != stamp:
                seen = None  # gone, or changed by someone else since: what we remember no longer holds
            if seen is not None and seen.record is not None and seen.record == rec:
                continue
            rdigest = digests[rel] if rel in digests else _record_digest(rec)
            if seen is not None and seen.record is None and rdigest and rdigest == seen.record_digest:
                self._seen[rel] = _Seen(rec, seen.stamp, seen.digest, rdigest, seen.label)
                continue  # the memo's record, in the file as the memo's writer left it
            data = rec.to_yaml()
            digest = _digest(data)
            code = _LABEL_CODES.get((rec.sync_state, rec.phase))
            self._memo_dirty = True
            before: str | None = None  # the old record's label; None: there was none
            if seen is not None:
                if seen.digest == digest:
                    self._seen[rel] = _Seen(rec, seen.stamp, digest, rdigest, code)
                    continue
                if seen.record is not None:
                    before = label(seen.record)
                elif seen.label is not None:
                    before = _LABELS[seen.label]  # the memo's record differs: the digests say so
                elif (old := _read_record(root / rel)) is not None:
                    before = "" if old == rec else label(old)
            elif stamp is not None:
                data_before = _read_bytes(root / rel)
                if data_before == data:
                    self._seen[rel] = _Seen(rec, stamp, digest, rdigest, code)
                    continue
                if data_before is not None and (old := _record_of(data_before)) is not None:
                    before = "" if old == rec else label(old)
            try:
                stamp = _atomic_write(root / rel, data, pid)
            except OSError as exc:  # this record only: the others are written all the same
                self.failed.append(f"cannot write the status of {rec.ref} to {root / rel}: {_why(exc)}")
                if self._seen.pop(rel, None) is not None:
                    self._memo_dirty = True
                continue
            self._seen[rel] = _Seen(rec, stamp, digest, rdigest, code)
            if before != "":  # "": the same record in other bytes (rewritten, no line)
                lines[rel] = transition_line(rec.ref, before, label(rec))
        for stale in scan.leftovers:  # left by a writer killed mid-write
            with contextlib.suppress(OSError):
                stale.unlink()
        for rel in scan.files.keys() - new.keys():
            gone = self._gone_label(rel, scan.files[rel])
            if gone is None:
                continue  # not a record (does not parse): not ours to remove
            lines[rel] = transition_line(*gone, None)
            self._seen.pop(rel, None)
            with contextlib.suppress(OSError):
                (root / rel).unlink()
            _remove_empty_parents(root / rel, root)
        for rel in self._seen.keys() - new.keys():  # objects no longer managed: forgotten
            del self._seen[rel]
            self._memo_dirty = True
        if self._memo_dirty:
            self._save_memo(root)
        return [lines[rel] for rel in sorted(lines)]

    def _as_the_memo_says(
        self, scan: _Scan, new: dict[str, StatusRecord], digests: dict[str, str | None]
    ) -> bool:
        """The directory holds the files of ``new`` and nothing else (no symlink, no leftover), each with the
        stamp the memo names for it and the record whose digest the memo names. Once the stamps agree, every
        record's digest is computed (into ``digests``, for the write that follows when a record differs)."""
        entries = self._memo
        if not entries or scan.symlinks or scan.leftovers or scan.files.keys() != new.keys():
            return False
        for rel, stamp in scan.files.items():
            entry = entries.get(rel)
            if type(entry) is not list or len(entry) < 5 or tuple(entry[1:4]) != stamp:
                return False
        digests.update({rel: _record_digest(rec) for rel, rec in new.items()})
        return all(digest is not None and digest == entries[rel][0] for rel, digest in digests.items())

    def _gone_label(self, rel: str, stamp: _Stamp) -> tuple[ObjectRef, str] | None:
        """The object and label of the record in a file whose object is gone (the remembered ones when the
        file is as we or the memo's writer left it); None when the file is not a record."""
        seen = self._seen.get(rel)
        if seen is None and self._memo:
            seen = _from_memo(self._memo.pop(rel, None), self._memo_labels)
        if seen is not None and seen.stamp == stamp:
            if seen.record is not None:
                return seen.record.ref, label(seen.record)
            if seen.label is not None and not is_shortened(rel.rpartition("/")[2]):
                return _ref_of(rel), _LABELS[seen.label]  # (a shortened name is read from the file below)
        record = _read_record(self.root / rel)
        return None if record is None else (record.ref, label(record))

    def _save_memo(self, root: Path) -> None:
        """Write the memo: an entry per file as this writer left it."""
        if root.is_dir():
            entries = {
                rel: [s.record_digest, *s.stamp, s.digest, s.label]
                for rel, s in self._seen.items() if s.record_digest is not None
            }
            memo.save(root / MEMO_FILE, entries, labels=_VOCABULARY)
            self._memo_dirty = False

    @staticmethod
    def _scan(root: Path) -> _Scan:
        """``<namespace>/<kind>/<name>.yaml`` under ``root`` (names starting with a dot are not records;
        symlinked directories are not followed), with their stamps; and ``.*.tmp`` files beside them and the
        memo's beside it. Each kind directory is read through its descriptor, so a file's ``stat`` looks up
        one name, not the whole path."""
        files: dict[str, _Stamp] = {}
        symlinks: set[str] = set()
        leftovers: list[Path] = []
        for ns in _dirs(root, leftovers):
            for kind in _dirs(Path(ns.path)):
                try:
                    fd = os.open(kind.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                except OSError:
                    continue
                try:
                    with os.scandir(fd) as it:
                        entries = list(it)
                    prefix = f"{ns.name}/{kind.name}/"
                    for entry in entries:
                        name = entry.name
                        if name.startswith("."):
                            if name.endswith(".tmp"):
                                leftovers.append(Path(kind.path, name))
                            continue
                        if not name.endswith(".yaml"):
                            continue
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        rel = prefix + name
                        files[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
                        if entry.is_symlink():
                            symlinks.add(rel)
                except OSError:
                    continue
                finally:
                    os.close(fd)
        return _Scan(files, symlinks, leftovers)


def _from_memo(entry: Any, labels: bool) -> _Seen | None:
    """A memo entry, ``[record digest, st_ino, st_size, st_mtime_ns, file digest, label number]`` (hex
    digests; the label number may be null or missing, and is ignored unless ``labels``: the memo's vocabulary
    is ours), as what the memo's writer left; None when it has another shape."""
    try:
        rdigest, ino, size, mtime, digest, *rest = entry
        stamp = (int(ino), int(size), int(mtime))
    except (TypeError, ValueError):
        return None
    if type(rdigest) is not str or type(digest) is not str:
        return None
    code = rest[0] if rest and labels else None
    return _Seen(None, stamp, digest, rdigest, code if type(code) is int and code in _LABELS else None)


def _why(exc: OSError) -> str:
    """An ``OSError``'s reason without its path (the message names the path once)."""
    return exc.strerror or str(exc)


def _ref_of(rel: str) -> ObjectRef:
    """The object of a status file path (``record.relative_path`` reversed; not for a shortened name)."""
    ns, kind, name = rel.split("/")
    return ObjectRef(kind, "" if ns == CLUSTER_SCOPE_DIR else ns, name.removesuffix(".yaml"))


def _read_record(path: Path) -> StatusRecord | None:
    """The record in the file at ``path``; None when it cannot be read or is not a YAML document."""
    data = _read_bytes(path)
    return None if data is None else _record_of(data)


def _record_of(data: bytes) -> StatusRecord | None:
    """The record in a file's bytes; None when they are not a YAML document."""
    try:
        return StatusRecord.from_yaml(data)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError):
        return None


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes by ``os.open``/``os.read`` (open, two reads, close: under half the system calls of
    ``Path.read_bytes``, which also stats, seeks and asks whether it is a terminal); None on any error."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _record_digest(record: StatusRecord) -> str | None:
    """``memo.record_digest`` in hex, as the memo holds it."""
    digest = memo.record_digest(record)
    return None if digest is None else digest.hex()


def _dirs(path: Path, leftovers: list[Path] | None = None) -> list[os.DirEntry[str]]:
    """The directories in ``path``; with ``leftovers``, the memo's temp files found there are added to it."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return []
    if leftovers is not None:
        prefix = f".{MEMO_FILE}."
        leftovers += [Path(e.path) for e in entries if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    return [e for e in entries if e.is_dir(follow_symlinks=False)]


def _atomic_write(target: Path, data: bytes, pid: int) -> _Stamp:
    """Replace ``target`` with ``data`` (``reconciler.status.atomic.replace_file``); the new file's stamp.
    The temp file is not ``*.yaml``: a writer killed before the rename leaves nothing a reader takes for a
    record, and the next write removes it."""
    st = replace_file(target, data, pid)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent
