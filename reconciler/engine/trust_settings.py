"""The settings in force of an engine: which AppImages may run processes (``engine.trusted_appimages``) and
which domains accept jobs automatically (``engine.auto_approve``), one record with a version in the store.

A driver that outlives the command that started it must still decide with the settings of the command that
asked, so the settings are not handed to a driver when it starts: every kgitops command that writes to the
engine or drives it publishes its settings (``publish``) before it acts, and every driver reads the record
(``StoredSettings``) before each decision made with them: launching a task's processes, giving an automatic
approval. A driver also looks at the record's version on every step: when it changes, the running tasks are
looked at again, and a task whose AppImage is no longer trusted is stopped (``TaskController``).

A kgitops command that drives the engine in its own process keeps writing with its own settings for as long
as it runs (``watch``, ``serve``, ``sync --wait``: ``LocalBackend``), so it *holds* the record while it holds
the engine lock: a command with other settings is then refused (``SettingsConflict``, exit 2), naming the
holder's pid, instead of having its settings silently ignored or overwritten. The background driver and
``kgitops engine run`` hold nothing: they follow the record (``engine run``'s ``--trust``/``--auto-approve``
add to it for as long as it runs).

Kuscia has no such record: on a Kuscia node trust is the container runtime's and ``enableWorkloadApprove`` is
read by the domain's own controller (``docs/kuscia.md``).
"""

from __future__ import annotations

import json
import os
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.engine.appimage_trust import is_trusted
from reconciler.errors import KgitopsError
from reconciler.model.objects import APP_IMAGE

if TYPE_CHECKING:
    from reconciler.engine.store import Store

KEY = "settings_in_force"  # the record's row in the store's ``meta`` table (JSON)

__all__ = [
    "FixedSettings",
    "Holder",
    "SettingsConflict",
    "SettingsRecord",
    "SettingsSource",
    "StoredSettings",
    "TrustSettings",
    "publish",
    "read_record",
]


@dataclass(frozen=True)
class TrustSettings:
    """``trusted_appimages``: glob patterns (``fnmatch``) of the AppImages whose commands may run;
    ``auto_approve``: the domains whose approval is given automatically (Kuscia's
    ``enableWorkloadApprove: false``). Both as written in kgitops.yaml, plus any command-line additions."""

    trusted_appimages: tuple[str, ...] = ()
    auto_approve: tuple[str, ...] = ()

    @classmethod
    def of(cls, trusted_appimages: object = (), auto_approve: object = ()) -> TrustSettings:
        """Settings from two iterables of strings (duplicates dropped, order kept)."""
        return cls(_strings(trusted_appimages), _strings(auto_approve))

    def trusts(self, appimage: str) -> bool:
        return is_trusted(appimage, self.trusted_appimages)

    def plus(self, extra: TrustSettings) -> TrustSettings:
        return TrustSettings.of(
            (*self.trusted_appimages, *extra.trusted_appimages), (*self.auto_approve, *extra.auto_approve)
        )

    def same_as(self, other: TrustSettings) -> bool:
        """The same decisions: equal sets (order and duplicates do not matter)."""
        return set(self.trusted_appimages) == set(other.trusted_appimages) and set(self.auto_approve) == set(
            other.auto_approve
        )


def _strings(values: object) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
        return ()
    return tuple(dict.fromkeys(str(v) for v in values))


@dataclass(frozen=True)
class Holder:
    """A kgitops command that drives the engine in its own process with its own settings: its ``pid``, the
    ``token`` of its engine lock (``driver.EngineLock``), and ``command`` (e.g. ``kgitops watch``)."""

    pid: int
    token: str
    command: str

    @classmethod
    def of_this_process(cls, token: str) -> Holder:
        """This process, named by its command line's first two words (``kgitops watch``)."""
        name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        if name in ("__main__.py", "kgitops", "-c", "-m"):
            name = "kgitops"
        return cls(os.getpid(), token, " ".join([name, *sys.argv[1:2]]))


@dataclass(frozen=True)
class SettingsRecord:
    """The settings in force: ``version`` (1 for the first, +1 at every change), ``settings``, and the
    ``holder`` that published them while driving (None: nobody holds them; a holder counts only while its
    lock is the engine lock held now)."""

    version: int
    settings: TrustSettings
    holder: Holder | None = None

    def to_json(self) -> str:
        holder = None if self.holder is None else vars(self.holder)
        return json.dumps(
            {
                "version": self.version,
                "trusted_appimages": list(self.settings.trusted_appimages),
                "auto_approve": list(self.settings.auto_approve),
                "holder": holder,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SettingsRecord | None:
        """None for a record this version of kgitops cannot read (then nothing is trusted)."""
        try:
            doc = json.loads(text)
            h = doc.get("holder")
            holder = Holder(int(h["pid"]), str(h["token"]), str(h["command"])) if h else None
            settings = TrustSettings.of(doc.get("trusted_appimages"), doc.get("auto_approve"))
            return cls(int(doc["version"]), settings, holder)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def read_record(store: Store) -> SettingsRecord | None:
    """The record in ``store``, or None when no command published one yet."""
    text = store.meta_value(KEY)
    return None if text is None else SettingsRecord.from_json(text)


class SettingsConflict(KgitopsError):
    """Another kgitops process drives the engine with other settings and keeps them while it runs (exit 2)."""

    exit_code = 2


def publish(
    store: Store, settings: TrustSettings, driver: tuple[int, str] | None, holder: Holder | None = None
) -> SettingsRecord:
    """Make ``settings`` the settings in force (a new version when they differ), before the command acts.

    ``driver``: (pid, lock token) of the engine lock's holder now (``driver.driver_identity``), or None.
    ``holder``: given by a command that drives in its own process (it holds the lock) and keeps its
    settings while it does.

    Raises ``SettingsConflict`` when the record is held by another command that still holds the lock and
    its settings are not the same: nothing is written then."""
    with store.transaction():
        current = read_record(store)
        held = current.holder if current is not None and current.holder is not None else None
        if held is not None and (held.pid, held.token) != driver:
            held = None  # it stopped driving (or died): its settings no longer bind anyone
        mine = holder is not None and held is not None and held.token == holder.token
        if current is not None and held is not None and not mine and not settings.same_as(current.settings):
            raise _conflict(store, current.settings, settings, held)
        keep = holder or (held if current is not None and settings.same_as(current.settings) else None)
        if current is not None and settings.same_as(current.settings) and keep == current.holder:
            return current
        version = 1 if current is None else current.version + (not settings.same_as(current.settings))
        record = SettingsRecord(version, settings, keep)
        store.set_meta_value(KEY, record.to_json())
        return record


def _conflict(store: Store, held: TrustSettings, mine: TrustSettings, holder: Holder) -> SettingsConflict:
    where = os.path.dirname(store.path)
    differences = []
    for what, theirs, ours in (
        (f"trusts the {APP_IMAGE}s", held.trusted_appimages, mine.trusted_appimages),
        ("accepts jobs automatically for", held.auto_approve, mine.auto_approve),
    ):
        if set(theirs) != set(ours):
            differences.append(f"it {what} {_listed(theirs)}, this command {_listed(ours)}")
    return SettingsConflict(
        f"the engine in {where} is driven by `{holder.command}` (pid {holder.pid}) with other settings: "
        + "; ".join(differences)
        + ". It keeps the settings it started with, so this command would not be applied as asked; "
        "nothing was changed",
        hint=f"stop pid {holder.pid} (`kill {holder.pid}`) and start it again, so that it reads kgitops.yaml "
        "anew, or run this command with the same engine.trusted_appimages and engine.auto_approve",
    )


def _listed(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


class SettingsSource(ABC):
    """Where a driver's decisions read the settings in force from."""

    @abstractmethod
    def current(self) -> TrustSettings:
        """The settings to decide with now."""

    @abstractmethod
    def version(self) -> int:
        """Changes whenever ``current()`` may have changed (one small read)."""


class FixedSettings(SettingsSource):
    """Settings given once, for an engine nobody else publishes to (``kgitops simulate``, embedding)."""

    def __init__(self, settings: TrustSettings | None = None) -> None:
        self.settings = settings or TrustSettings()

    def current(self) -> TrustSettings:
        return self.settings

    def version(self) -> int:
        return 0


class StoredSettings(SettingsSource):
    """The record in the store (nothing trusted, nobody approving automatically, while there is none), plus
    ``extra`` settings of the driver's own command line (``kgitops engine run --trust``)."""

    def __init__(self, store: Store, extra: TrustSettings | None = None) -> None:
        self.store = store
        self.extra = extra or TrustSettings()
        self._seen: tuple[str | None, SettingsRecord | None] = (None, None)  # the record's text, parsed

    def _record(self) -> SettingsRecord | None:
        text = self.store.meta_value(KEY)  # one read of one row; parsed only when it changed
        if text != self._seen[0]:
            self._seen = (text, None if text is None else SettingsRecord.from_json(text))
        return self._seen[1]

    def current(self) -> TrustSettings:
        record = self._record()
        return (record.settings if record is not None else TrustSettings()).plus(self.extra)

    def version(self) -> int:
        record = self._record()
        return 0 if record is None else record.version
