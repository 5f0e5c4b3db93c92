"""A directory of manifests, read as it is on disk, and watched with watchdog in ``kgitops watch``."""

from __future__ import annotations

import fnmatch
import os
import stat
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pygit2

from reconciler.load.entries import Entry, judge, not_regular, unreadable
from reconciler.source.debounce import Debouncer
from reconciler.source.snapshot import (
    FileChanges,
    FileProblem,
    GitHistory,
    Snapshot,
    SourceError,
    SourceFile,
    content_revision,
    is_manifest_name,
)

# Editors write these next to the file being saved; they must never trigger a reconcile.
EDITOR_TEMP_PATTERNS = (
    ".*",  # .#lockfiles (emacs), .file.swp (vim), .file.yaml.tmp (many), hidden files in general
    "*~",
    "*.swp",
    "*.swx",
    "*.swo",
    "*.tmp",
    "*.bak",
    "4913",  # vim's write test
    "#*#",
    "*___jb_tmp___",
    "*___jb_old___",
)


Stamp = tuple[tuple[int, int, int], str]  # ((st_mtime_ns, st_size, st_ino), blob id)
RACY_NS = 2_000_000_000  # a file modified this recently may change again within the same mtime: not kept


class StampStore(Protocol):
    """Where a directory source keeps its stamps between processes (``reconciler.apply.session`` gives it the
    parse cache file): path -> (stat triple, blob id)."""

    def load(self) -> dict[str, Stamp]: ...
    def save(self, changed: dict[str, Stamp]) -> None: ...


def _is_temp(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in EDITOR_TEMP_PATTERNS)


class DirectorySource:
    """Manifests under ``root`` (recursively, sorted). ``ignore`` lists directories (e.g. the status dir)
    whose content is never read and whose changes never count as a source event."""

    kind = "directory"

    def __init__(
        self,
        root: str | Path,
        ignore: list[str | Path] | None = None,
        source_id: str = "",
        stamps: StampStore | None = None,
    ) -> None:
        """``stamps``: keep the stamps on disk, so a new process re-reads only the files that changed."""
        self.root = Path(root).resolve()
        self.ignore = [Path(p).resolve() for p in (ignore or [])]
        self.source_id = source_id or f"dir:{self.root}"
        # Unchanged files (same mtime, size and inode) keep their digest: a save re-reads one file, not all.
        self._stamps: dict[str, Stamp] = {}
        self._store = stamps
        self._stored: dict[str, Stamp] | None = None  # what the store holds (None: not read yet)

    history: GitHistory | None = None
    """A directory has no history: approvals and status commits need a Git source."""

    def describe(self) -> str:
        return str(self.root)

    def latest(self) -> str:
        """"": every ``snapshot()`` reads the directory as it is now."""
        return ""

    def _ignored(self, path: Path) -> bool:
        return any(path == ig or ig in path.parents for ig in self.ignore)

    def changed_files(self, since: str, revision: str) -> FileChanges | None:
        """None: a directory keeps no history to compare two revisions with (read a ``snapshot``)."""
        return None

    def snapshot(self, revision: str | None = None) -> Snapshot:
        """The files as they are now; ``revision`` is ignored (a directory keeps no history)."""
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: the source directory does not exist or is not a directory")
        files: list[SourceFile] = []
        problems: list[FileProblem] = []
        stamps: dict[str, Stamp] = {}
        if self._store is not None and self._stored is None:
            self._stored = self._store.load()
            self._stamps = {**self._stored, **self._stamps}

        def onerror(exc: OSError) -> None:
            where = self._rel(Path(exc.filename or self.root))
            problems.append(FileProblem(where, str(unreadable(exc.strerror or str(exc)))))

        if not os.access(self.root, os.R_OK | os.X_OK):
            raise SourceError(f"{self.root}: the source directory is not readable")
        real_root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(self.root, onerror=onerror, followlinks=False):
            here = Path(dirpath)
            # each entry judged as validate's discovery judges it (reconciler.load.entries): one verdict
            entries = [(d, True) for d in dirnames if not d.startswith(".") and not self._ignored(here / d)]
            entries += [(n, False) for n in filenames if not n.startswith(".") and not _is_temp(n)]
            dirnames[:] = []
            for name, is_dir in sorted(entries):
                full = here / name
                what, problem = judge(str(full), name, is_dir, full.is_symlink(), real_root)
                if problem is not None:
                    problems.append(FileProblem(self._rel(full), str(problem)))
                if what is Entry.DIRECTORY:
                    dirnames.append(name)
                elif what is Entry.FILE:
                    self._read(full, stamps, files, problems)
        self._stamps = stamps
        self._keep(stamps)
        revision = content_revision([(f.path, f.digest) for f in files] + [(p.path, "!") for p in problems])
        return Snapshot(self.source_id, revision, tuple(files), tuple(problems))

    def _read(
        self, full: Path, stamps: dict[str, Stamp], files: list[SourceFile], problems: list[FileProblem]
    ) -> None:
        """Stamp and hash the manifest file ``full`` (read again only when its stamp changed), or record why
        it cannot be read (a pipe, socket or device is never opened)."""
        rel = self._rel(full)
        try:
            st = full.stat()
            if not stat.S_ISREG(st.st_mode):
                problems.append(FileProblem(rel, str(not_regular())))
                return
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            known = self._stamps.get(rel)
            if known is not None and known[0] == stamp:
                digest = known[1]
                reader = _lazy(full)
            else:
                data = full.read_bytes()
                digest = str(pygit2.hash(data))
                reader = _handed_over(data, full)
        except OSError as exc:
            problems.append(FileProblem(rel, str(unreadable(exc.strerror or str(exc)))))
            return
        stamps[rel] = (stamp, digest)
        files.append(SourceFile(rel, digest, reader))

    def _keep(self, stamps: dict[str, Stamp]) -> None:
        """Hand the stamps that changed to the store, except those of files modified in the last ``RACY_NS``
        (a write in the same clock tick would leave the stamp as it is: such files are read again)."""
        if self._store is None or self._stored is None:
            return
        settled = time.time_ns() - RACY_NS
        changed = {p: v for p, v in stamps.items() if self._stored.get(p) != v and v[0][0] < settled}
        if changed:
            self._store.save(changed)
            self._stored.update(changed)

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def watch(
        self, on_change: Callable[[], None], quiet: float = 0.15, max_delay: float = 1.0
    ) -> Callable[[], None]:
        """Call ``on_change`` (from a background thread) once per burst of relevant file events.

        Returns a function that stops watching."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        # watchdog's inotify backend warns when a new sub-directory is registered twice in a burst; harmless.
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)
        debouncer = Debouncer(on_change, quiet=quiet, max_delay=max_delay)
        source = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                if event.is_directory and event.event_type in ("modified", "closed"):
                    return  # a directory's mtime moves with any file in it; the file's own event counts
                paths = [event.src_path, event.dest_path]  # dest_path: "" but for a move
                if any(p and source.relevant(os.fsdecode(p), event.is_directory) for p in paths):
                    debouncer.poke()

        observer = Observer()
        observer.schedule(Handler(), str(self.root), recursive=True)
        observer.start()

        def stop() -> None:
            observer.stop()
            observer.join(timeout=5)
            debouncer.close()

        return stop

    def relevant(self, path: str, is_directory: bool = False) -> bool:
        """Whether a change at ``path`` can change the snapshot."""
        p = Path(path)
        if self._ignored(p) or self._ignored(p.parent):
            return False
        try:
            rel = p.relative_to(self.root)
        except ValueError:
            return False
        if any(part.startswith(".") for part in rel.parts[:-1]):
            return False
        if is_directory:
            return not p.name.startswith(".")
        return is_manifest_name(p.name) and not _is_temp(p.name)


def _handed_over(data: bytes, path: Path) -> Callable[[], bytes]:
    """The bytes read to hash the file, handed over to the first reader and then forgotten: a snapshot lives
    as long as its plan, and keeping every file's text in it would hold the whole source in memory (28 MiB
    at 10,000 jobs). A later read reads the file again, as ``_lazy`` does for a file whose stamp is known."""
    box = [data]

    def read() -> bytes:
        try:
            return box.pop()
        except IndexError:
            return path.read_bytes()

    return read


def _lazy(path: Path) -> Callable[[], bytes]:
    return path.read_bytes
