"""Status files: ``<status-dir>/<namespace>/<kind>/<name>.yaml``, one per managed object.

The directory mirrors the current records: files are replaced atomically (temp file + rename) only when their
bytes change, and files of objects that are gone are removed. Names that could escape the directory are
refused.

A write costs what changed: the writer remembers each record it wrote or found on disk with the file's
identity (inode, size, mtime in ns), so an unchanged record whose file is as it was left is neither dumped nor
read again (``watch``). A new writer (a fresh process) starts from the memo the last writer left in the
directory (``.kgitops-status-memo.json``: per file, the record's digest, the file's stamp and byte digest;
``reconciler.status.memo``): a record whose digest is the memo's, at a file whose stamp is the memo's, is
neither dumped nor read; without a memo entry it compares the bytes it would write with the file's. A file
edited by someone else no longer matches what the writer remembers, and is compared and rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from reconciler.status import memo
from reconciler.status.atomic import replace_file
from reconciler.status.record import StatusRecord, relative_path, transitions

_Stamp = tuple[int, int, int]  # (st_ino, st_size, st_mtime_ns) of a file
MEMO_FILE = ".kgitops-status-memo.json"  # in the status directory; not a record (a file, not a directory)


class _Seen(NamedTuple):  # a tuple: one is made per record a fresh writer meets
    """A file as this writer left it (or found it): the record it holds (None: known from the memo only), its
    stamp, a digest of its bytes and the record's digest (``memo.record_digest``)."""

    record: StatusRecord | None
    stamp: _Stamp
    digest: bytes
    record_digest: bytes | None


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
        self._seen: dict[str, _Seen] = {}  # path → the file as this writer left it
        self._memo: dict[str, Any] | None = None  # the memo's entries not yet used (None: not read yet)
        self._memo_dirty = False  # ``_seen`` differs from the memo on disk

    def read_all(self) -> dict[str, StatusRecord]:
        """Every status file that parses, by relative path."""
        out: dict[str, StatusRecord] = {}
        for rel in sorted(self._scan(self.root).files):
            record = self._read(rel)
            if record is not None:
                out[rel] = record
        return out

    def write(self, records: list[StatusRecord]) -> list[str]:
        """Make the directory hold exactly ``records``; returns the transitions (empty: nothing written).

        Only files whose bytes change are written; an unchanged record whose file is as this writer left it
        is not even dumped. Files of objects no longer in ``records`` are removed (a file that does not parse
        as YAML is left alone)."""
        new: dict[str, StatusRecord] = {}
        self.skipped = []
        for rec in records:
            rel = relative_path(rec.ref)
            if rel is None:
                self.skipped.append(str(rec.ref))
                continue
            new[rel] = rec
        root = self.root.resolve()
        if self._memo is None:
            self._memo = memo.load(root / MEMO_FILE)
        pid = os.getpid()  # the temp files' names, asked once (a system call each time)
        scan = self._scan(root)
        inside: dict[str, bool] = {}  # per directory: does it resolve inside the root (no symlink out)?
        old: dict[str, StatusRecord] = {}
        changed: dict[str, StatusRecord] = {}
        for rel, rec in new.items():
            directory = rel.rpartition("/")[0]
            if directory not in inside:
                resolved = (root / directory).resolve()
                inside[directory] = resolved == root or root in resolved.parents
            if not inside[directory] or (rel in scan.symlinks and root not in (root / rel).resolve().parents):
                self.skipped.append(str(rec.ref))
                continue
            stamp = scan.files.get(rel)
            seen = self._seen.get(rel)
            if seen is None and self._memo:
                seen = _from_memo(self._memo.pop(rel, None))
            if seen is not None and seen.stamp != stamp:
                seen = None  # gone, or changed by someone else since: what we remember no longer holds
            if seen is not None:
                if seen.record is not None:
                    if seen.record == rec:
                        continue
                elif seen.record_digest is not None and memo.record_digest(rec) == seen.record_digest:
                    self._seen[rel] = _Seen(rec, seen.stamp, seen.digest, seen.record_digest)
                    continue  # the memo's record, in the file as the memo's writer left it
            data = rec.to_yaml()
            digest = _digest(data)
            rdigest = memo.record_digest(rec)
            self._memo_dirty = True
            if seen is not None:
                if seen.digest == digest:
                    self._seen[rel] = _Seen(rec, seen.stamp, digest, rdigest)
                    continue
                if seen.record is not None:
                    old[rel] = seen.record
                elif (before := _read_bytes(root / rel)) is not None and (record := _record_of(before)):
                    old[rel] = record
            elif stamp is not None:
                before = _read_bytes(root / rel)
                if before == data:
                    self._seen[rel] = _Seen(rec, stamp, digest, rdigest)
                    continue
                if before is not None and (record := _record_of(before)) is not None:
                    old[rel] = record
            self._seen[rel] = _Seen(rec, _atomic_write(root / rel, data, pid), digest, rdigest)
            changed[rel] = rec
        for stale in scan.leftovers:  # left by a writer killed mid-write
            with contextlib.suppress(OSError):
                stale.unlink()
        for rel in scan.files.keys() - new.keys():
            record = self._read(rel, scan.files[rel])
            if record is None:
                continue  # not a record (does not parse): not ours to remove
            old[rel] = record
            self._seen.pop(rel, None)
            with contextlib.suppress(OSError):
                (root / rel).unlink()
            _remove_empty_parents(root / rel, root)
        for rel in self._seen.keys() - new.keys():  # objects no longer managed: forgotten
            del self._seen[rel]
            self._memo_dirty = True
        self._save_memo(root)
        return transitions(old, changed)

    def _save_memo(self, root: Path) -> None:
        if self._memo_dirty and root.is_dir():
            entries = {
                rel: [s.record_digest.hex(), *s.stamp, s.digest.hex()]
                for rel, s in self._seen.items() if s.record_digest is not None
            }
            memo.save(root / MEMO_FILE, entries)
            self._memo_dirty = False

    def _read(self, rel: str, stamp: _Stamp | None = None) -> StatusRecord | None:
        """The record in the file at ``rel`` (the remembered one when the file is as we left it)."""
        seen = self._seen.get(rel)
        if seen is not None and stamp is not None and seen.stamp == stamp and seen.record is not None:
            return seen.record
        data = _read_bytes(self.root / rel)
        return _record_of(data) if data is not None else None

    @staticmethod
    def _scan(root: Path) -> _Scan:
        """``<namespace>/<kind>/<name>.yaml`` under ``root`` (names starting with a dot are not records;
        symlinked directories are not followed), with their stamps; and ``.*.tmp`` files beside them and the
        memo's beside it."""
        files: dict[str, _Stamp] = {}
        symlinks: set[str] = set()
        leftovers: list[Path] = []
        for ns in _dirs(root, leftovers):
            for kind in _dirs(Path(ns.path)):
                try:
                    entries = list(os.scandir(kind.path))
                except OSError:
                    continue
                for entry in entries:
                    name = entry.name
                    if name.startswith("."):
                        if name.endswith(".tmp"):
                            leftovers.append(Path(entry.path))
                        continue
                    if not name.endswith(".yaml"):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    rel = f"{ns.name}/{kind.name}/{name}"
                    files[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
                    if entry.is_symlink():
                        symlinks.add(rel)
        return _Scan(files, symlinks, leftovers)


def _from_memo(entry: Any) -> _Seen | None:
    """A memo entry, ``[record digest, st_ino, st_size, st_mtime_ns, file digest]`` (hex digests), as what
    the memo's writer left; None when it has another shape."""
    try:
        rdigest, ino, size, mtime, digest = entry
        return _Seen(None, (int(ino), int(size), int(mtime)), bytes.fromhex(digest), bytes.fromhex(rdigest))
    except (TypeError, ValueError):
        return None


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


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


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
