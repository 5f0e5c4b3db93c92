"""What the store's change log (``engine.changelog``) answers its readers: the driver's ``Change`` and
``Backend.changes``' ``Changes``. Their own module, loaded by the first read of the log: opening the store
to read jobs makes neither dataclass."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from reconciler.model import ObjectRef, Resource


@dataclass(frozen=True)
class Change:
    """For the driver: an object written (created, updated) or deleted since some revision: its identity,
    its uid, its owner's uid ("" for none) and its ``status.phase`` as written ("" for a deletion)."""

    ref: ObjectRef
    uid: str
    owner: str
    phase: str = ""


@dataclass(frozen=True)
class Changes:
    """For ``Backend.changes``: the store's resource ``version`` at the read; ``complete``: ``changed`` holds
    every object of the kind (the caller replaces what it holds), else only those written since;
    ``removed``: the refs deleted since (a ref deleted and created again is in both, ``changed`` wins)."""

    version: int
    complete: bool
    changed: builtins.list[Resource]
    removed: builtins.list[ObjectRef]
