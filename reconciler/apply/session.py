"""Wiring from a ``Config`` to the parts of a GitOps run: the source, the reconciler, the status write-back.

The CLI and ``kgitops watch`` both go through here, so a setting means the same thing in every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.full_base import base_key
from reconciler.apply.lock import WriterLock
from reconciler.apply.reconcile import Planned, Reconciler
from reconciler.apply.status_records import records_of
from reconciler.apply.sync import SyncResult
from reconciler.backends.base import Backend
from reconciler.config import Config
from reconciler.credentials import SecretSource
from reconciler.plan.diff import PlanOptions
from reconciler.plan.parse_cache import ParseCacheFile, cache_path, fingerprint
from reconciler.plan.plan_base import PlanBaseFile, base_path
from reconciler.source import DirectorySource, GitSource, Source, SourceError, looks_like_url
from reconciler.source.directory import Stamp
from reconciler.source.git_auth import GitCredentials
from reconciler.source.source_path import directory_below
from reconciler.status import StatusBranch, StatusCommitError, StatusFiles
from reconciler.status.record import StatusRecord
from reconciler.validate import Options


@dataclass
class FileStamps:
    """A directory source's stamps (``reconciler.source.directory.StampStore``) in the parse cache file, one
    memo per source root."""

    cache: ParseCacheFile
    root: Path

    @property
    def _name(self) -> str:
        return f"source.stamps:{self.root}"

    def load(self) -> dict[str, Stamp]:
        out: dict[str, Stamp] = {}
        for path, value in self.cache.load_memo(self._name).items():
            match value:
                case ((int(), int(), int()) as st, str() as digest):
                    out[path] = (st, digest)
        return out

    def save(self, changed: dict[str, Stamp]) -> None:
        self.cache.save_memo(self._name, changed)


def open_source(
    config: Config, parse_cache: ParseCacheFile | None = None, known_id: Callable[[str], bool] | None = None
) -> Source:
    """The configured source; a Git source for a URL or with ``source.git``, else a directory (whose stamps
    are kept in ``parse_cache`` when given). ``known_id(id)``: whether the backend holds an inventory under
    ``id`` (a Git source keeps an id an earlier kgitops recorded for it, ``GitSource.source_id``). Raises
    SourceError when no source is given, and SourcePathError when ``source.subpath`` (``--path``) is
    absolute, leaves the source or, for a directory, passes through a symbolic link."""
    sc = config.source
    if not sc.path:
        raise SourceError("no source given: pass SOURCE or set `source.path` in the config file")
    if looks_like_url(sc.path) or sc.git:
        location = sc.path if looks_like_url(sc.path) else str(config.resolve(sc.path))
        return GitSource(
            location,
            ref=sc.ref,
            subpath=sc.subpath,
            cache_dir=config.state_dir / "git",
            source_id=sc.id,
            credentials=git_credentials(config),
            known_id=known_id,
        )
    root = directory_below(config.resolve(sc.path), sc.subpath)
    stamps = FileStamps(parse_cache, root.resolve()) if parse_cache is not None else None
    ignore: list[str | Path] = [config.state_dir]
    if config.status.dir:
        ignore.append(config.resolve(config.status.dir))
    return DirectorySource(root, ignore=ignore, source_id=sc.id, stamps=stamps)


def git_credentials(config: Config) -> GitCredentials:
    """The SSH key, host keys and HTTPS credentials of the ``source`` section
    (``reconciler.source.git_auth``); paths are relative to the config file."""
    sc = config.source
    return GitCredentials(
        str(config.resolve(sc.ssh_key)) if sc.ssh_key else "",
        passphrase=SecretSource(
            "source.ssh_key_passphrase",
            env=sc.ssh_key_passphrase_env,
            file=str(config.resolve(sc.ssh_key_passphrase_file)) if sc.ssh_key_passphrase_file else "",
        ),
        known_hosts=str(config.resolve(sc.known_hosts)) if sc.known_hosts else "",
        home=config.state_dir / "git" / "ssh-home",
        https_username=sc.https_username,
        https_password=SecretSource(
            "source.https_password",
            sc.https_password,
            sc.https_password_env,
            str(config.resolve(sc.https_password_file)) if sc.https_password_file else "",
        ),
    )


def plan_options(
    config: Config, recreate: tuple[str, ...] = (), confirm_prune: tuple[str, ...] = ()
) -> PlanOptions:
    """The differ's options: prune settings from the config; ``recreate`` and ``confirm_prune`` are names
    (or ``Kind/name``, or full refs) given for one run (``--recreate``, ``--confirm-prune``)."""
    return PlanOptions(
        prune=config.prune.enabled,
        max_prune=config.prune.max,
        confirm_prune=frozenset(confirm_prune),
        recreate=frozenset(recreate),
        recreate_drifted=config.sync.recreate_drifted,
        prune_grace_period=config.prune.grace_period,
    )


@dataclass
class StatusWriteBack:
    """Status files and/or status commits; either may be absent."""

    files: StatusFiles | None = None
    branch: StatusBranch | None = None
    errors: list[str] = field(default_factory=list)

    def write(self, result: SyncResult, records: list[StatusRecord] | None = None) -> list[str]:
        """Write the records of a sync (``records``: already made from it, ``records_of``); returns the
        transitions (empty when nothing changed)."""
        if result.dry_run or result.plan.error or (self.files is None and self.branch is None):
            return []
        records = records_of(result) if records is None else records
        lines: list[str] = []
        self.errors = []
        if self.files is not None:
            try:
                lines = self.files.write(records)
            except OSError as exc:  # the status directory itself: the sync stands, and says so
                self.errors.append(f"cannot write the status files in {self.files.root}: {exc}")
            else:
                self.errors += self.files.failed
        if self.branch is not None:
            try:
                self.branch.commit(records)
            except StatusCommitError as exc:
                self.errors.append(str(exc))
        return lines


def status_write_back(config: Config, source: Source) -> StatusWriteBack:
    wb = StatusWriteBack()
    if config.status.dir:
        wb.files = StatusFiles(config.resolve(config.status.dir))
    history = source.history
    if history is not None and config.status.commit and config.status.branch:
        try:
            repo = history.repository
            tracked = history.tracked_branch
        except SourceError:
            return wb
        if config.status.branch.removeprefix("refs/heads/") == tracked:
            raise SourceError(
                f"the status branch `{config.status.branch}` is the branch kgitops reads manifests from; "
                "choose another with --status-branch (default kgitops/status)"
            )
        wb.branch = StatusBranch(
            repo,
            config.status.branch,
            push=history.remote and config.status.push,
            callbacks=history.credentials.callbacks,
        )
    return wb


@dataclass
class Session:
    config: Config
    source: Source
    backend: Backend
    reconciler: Reconciler
    status: StatusWriteBack
    writer: WriterLock  # held by each sync, from reading the live state to writing status

    def sync_and_write(
        self,
        dry_run: bool = False,
        on_wait: Callable[[str], None] | None = None,
        differences_only: bool = False,
    ) -> tuple[Planned, SyncResult, list[str]]:
        """One sync under the writer lock: plan, apply, write status back. A dry run writes nothing and
        takes no lock. Returns the plan, the result and the status transitions. ``differences_only``: the
        result may leave the unchanged entries out (``Reconciler.sync_differences``), when no status is
        written back (status files and commits need every entry)."""
        elide = differences_only and self.status.files is None and self.status.branch is None
        run = self.reconciler.sync_differences if elide else self.reconciler.sync
        if dry_run:
            planned, result = run(dry_run=True)
            return planned, result, []
        with self.writer.hold(on_wait):
            planned, result = run()
            return planned, result, self.status.write(result)


def open_session(
    config: Config,
    backend: Backend,
    recreate: tuple[str, ...] = (),
    command: str = "kgitops",
    validate_options: Options | None = None,
    confirm_prune: tuple[str, ...] = (),
) -> Session:
    parse_cache = ParseCacheFile(cache_path(config.state_dir), fingerprint(validate_options))
    source = open_source(config, parse_cache, lambda source_id: bool(backend.get_inventory(source_id)))
    approvals = config if source.history is not None else None  # approvals need Git history
    options = plan_options(config, recreate, confirm_prune)
    backend_id = f"{backend.name}|{config.backend!r}|{config.state_dir.resolve()}"
    reconciler = Reconciler(
        source,
        backend,
        options,
        validate_options,
        approvals_config=approvals,
        parse_cache=parse_cache,
        plan_base=PlanBaseFile(base_path(config.state_dir)),
        base_key=base_key(source, backend_id, parse_cache.fingerprint, options),
    )
    writer = WriterLock(config.state_dir, command)
    return Session(config, source, backend, reconciler, status_write_back(config, source), writer)
