"""Reading manifests: file discovery (with untrusted-input limits) and YAML documents with positions.

The names below are imported on first use (PEP 562), so a module of the package (``reconciler.load.files``
for the config file, ``reconciler.load.documents``) is imported without the others."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.load.discover import DiscoveredFile, PathNotFound, discover, read_source
    from reconciler.load.documents import MAX_DEPTH, Document, LoadError, iter_documents, locate

_HOMES = {
    "MAX_DEPTH": "documents",
    "Document": "documents",
    "LoadError": "documents",
    "iter_documents": "documents",
    "locate": "documents",
    "PathNotFound": "discover",
    "DiscoveredFile": "discover",
    "discover": "discover",
    "read_source": "discover",
}

__all__ = [
    "MAX_DEPTH",
    "Document",
    "LoadError",
    "PathNotFound",
    "DiscoveredFile",
    "discover",
    "iter_documents",
    "locate",
    "read_source",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
