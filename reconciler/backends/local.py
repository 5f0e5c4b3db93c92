"""The default backend: the embedded engine over a state directory (SQLite store + local processes).

Writes go straight to the store; the controllers run in whichever process holds the state directory's
engine lock. ``run_until`` drives the engine in-process while waiting (``sync --wait``, ``watch``,
``serve``); plain writes call ``ensure_driver`` so a background driver picks the work up. The backend's trust
and automatic approvals are published as the settings in force before its first write, and held while it
drives (``reconciler.engine.trust_settings``).

This module holds the backend's construction and its reads (pages straight from SQL, the change feed); the
writes are ``local_writes``, driving the engine ``local_driving``, logs and status ``local_views``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from pathlib import Path

from reconciler.backends.base import BackendError, Capabilities, LiveChanges
from reconciler.backends.local_writes import LocalWrites
from reconciler.backends.pages import Page, PageRequest, TaskPageRequest, marker_name, name_marker
from reconciler.config import Config, EngineConfig
from reconciler.engine import store_pages
from reconciler.engine.store import DB_NAME, Store
from reconciler.model import ObjectRef, Resource


def state_exists(state_dir: str | Path) -> bool:
    """True when ``state_dir`` holds an engine store (something was synced or created there)."""
    return (Path(state_dir) / DB_NAME).is_file()


class LocalBackend(LocalWrites):
    name = "local"
    capabilities = Capabilities(logs=True, engine_in_process=True, delete_ends_tasks=True, change_feed=True)

    def __init__(
        self,
        state_dir: str | Path,
        *,
        trusted_appimages: list[str] | tuple[str, ...] | None = None,
        auto_approve: list[str] | tuple[str, ...] | None = None,
        workspace: str | Path | None = None,
        kill_grace_seconds: float = 5.0,
        autostart: bool = True,
        readonly: bool = False,
    ) -> None:
        """``readonly``: for commands that only look (``job list``, ``diff``, ...): nothing is created on
        disk (a state directory without an engine store reads as an empty engine), no driver is started and
        this process never drives; a write raises BackendError.

        ``trusted_appimages`` and ``auto_approve`` (either given: the other one defaults to none) become the
        settings in force of the state directory at the first write or when this backend starts driving
        (``reconciler.engine.trust_settings``); a write raises ``SettingsConflict`` (exit 2) while another
        kgitops command drives with other settings. Neither given: this backend publishes nothing and, when
        it drives, decides with the settings in force."""
        self.state_dir = Path(state_dir).resolve()
        self.settings = None  # a read-only backend never publishes: it does not load the settings' module
        if not readonly and (trusted_appimages is not None or auto_approve is not None):
            from reconciler.engine.trust_settings import TrustSettings

            self.settings = TrustSettings.of(list(trusted_appimages or ()), list(auto_approve or ()))
        self._published = False  # the settings were published (before the first write)
        self._holding = False  # the settings are held, as this backend's while it drives
        self.workspace = Path(workspace).resolve() if workspace else Path.cwd()
        self.readonly = readonly
        self.autostart = autostart and not readonly
        self.kill_grace = kill_grace_seconds
        self.exists = state_exists(self.state_dir)
        if readonly and not self.exists:
            present = next(p for p in (self.state_dir, *self.state_dir.parents) if p.exists())
            if not present.is_dir():
                raise BackendError(
                    f"cannot read the engine state {self.state_dir}: {present} is not a directory"
                )
        self.store = Store.open(self.state_dir) if self.exists or not readonly else Store(":memory:")
        if not readonly:  # a read-only open changes nothing: its pages are right without the index too
            store_pages.ensure_indexes(self.store)
        self._engine_lock = None  # made on first use: a read-only open never takes it
        self._runtime = None
        self._engine = None
        self._closed = False

    @classmethod
    def from_config(cls, config: Config, readonly: bool = False) -> LocalBackend:
        """The backend of a kgitops command. Unless ``readonly``, its kgitops.yaml's ``engine`` settings are
        published at once, even if the command then has nothing to write (a ``sync`` after trust was
        withdrawn): raises ``SettingsConflict`` (exit 2) while another command drives with other ones."""
        eng: EngineConfig = config.engine
        base = Path(config.base_dir).resolve()
        backend = cls(
            config.state_dir,
            trusted_appimages=eng.trusted_appimages,
            auto_approve=eng.auto_approve,
            workspace=base,
            kill_grace_seconds=eng.kill_grace_seconds,
            autostart=eng.autostart,
            readonly=readonly,
        )
        if not readonly:
            try:
                backend.publish_settings()
            except BaseException:
                backend.store.close()
                raise
        return backend

    # -- reads (the writes: ``local_writes``) ---------------------------------------------------------
    def get(self, ref: ObjectRef) -> Resource | None:
        return self.store.get(ref)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> builtins.list[Resource]:
        return self.store.list(kind, namespace, labels)

    def list_jobs(self, page: PageRequest) -> Page:
        """A page straight from SQL (``engine.store_pages``): the primary key's index range after the
        marker's name, the filters in SQL, only the page's jobs decoded."""
        after = marker_name(page.marker)
        selection = store_pages.JobSelection(page.phases, page.initiator, page.labels)
        timed = page.updated_after is not None or page.started_after is not None
        items, more = store_pages.job_page(
            self.store, page.namespace, after, page.limit, selection, page.times_match if timed else None
        )
        return Page(items, name_marker(items[-1].name) if more and items else None)

    def job_names(self, namespace: str) -> builtins.list[str]:
        return store_pages.job_names(self.store, namespace)

    def list_tasks(self, page: TaskPageRequest) -> Page:
        """A page straight from SQL, as for jobs (``engine.store_pages.task_page``)."""
        items, more = store_pages.task_page(
            self.store, page.namespace, marker_name(page.marker), page.limit, page.phases
        )
        return Page(items, name_marker(items[-1].name) if more and items else None)

    def task_names(self, namespace: str) -> builtins.list[str]:
        return store_pages.task_names(self.store, namespace)

    def changes(self, kind: str, since: str = "", labels: Mapping[str, str] | None = None) -> LiveChanges:
        """From the store's change log (``Store.feed``, ``engine/changelog.py``): one indexed query for what
        changed."""
        found = self.store.feed.changes(kind, int(since) if since.isdigit() else None)
        changed, removed = found.changed, list(found.removed)
        if labels:
            wanted = [o for o in changed if all(o.labels.get(k) == v for k, v in labels.items())]
            if not found.complete:
                kept = {id(o) for o in wanted}
                removed += [o.ref for o in changed if id(o) not in kept]
            changed = wanted
        return LiveChanges(str(found.version), found.complete, changed, removed)

    # -- what people look at (``backends/local_views.py``) -----------------------------------------
    def logs(
        self, job: str, task: str | None = None, party: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        """Lines of the job's process logs, each prefixed ``[alias/domain-replica/container]``; following
        drives the engine when nobody else does (``step``)."""
        from reconciler.backends.local_views import job_logs

        return job_logs(self.store, self.state_dir, job, task, party, follow, self.step)

    def engine_status(self) -> dict[str, object]:
        from reconciler.backends.local_views import engine_status

        notice = self.driver_notice() if self.engine.busy() else ""
        return engine_status(self.store, self.state_dir, self.driver_pid(), notice)

    def close(self) -> None:
        """Release the lock; if work remains, hand it to a background driver."""
        if self._closed:
            return
        self._closed = True
        busy = self._drives() and self.engine.busy()
        if self._engine is not None:
            self._engine.close()
        if self._runtime is not None:
            self._runtime.close()
        if self._engine_lock is not None:
            self._engine_lock.release()
        if busy and self.autostart:
            from reconciler.engine.driver import ensure_driver

            ensure_driver(self.state_dir, self.workspace, self.kill_grace)
        self.store.close()
