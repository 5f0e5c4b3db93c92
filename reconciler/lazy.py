"""Lazy exports of a package (PEP 562): a name the package exports is imported from the module that defines
it on first use, so a command loads only what it touches (``kgitops job list`` the views' ``summary``, not
the full views and the typed specs they are built from)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``homes`` maps each name it exports to the submodule that
    defines it (relative to ``package``: ``"build"`` for ``reconciler.views.build``). The value found is kept
    in ``namespace`` (the package's ``globals()``), so the next use is a plain lookup. Any other name raises
    AttributeError, worded as Python words it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
