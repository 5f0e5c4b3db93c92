"""Reading manifests: file discovery (with untrusted-input limits) and YAML documents with positions.

The names below are imported on first use (PEP 562), so a module of the package (``reconciler.load.files``
for the config file, ``reconciler.load.documents``) is imported without the others."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _HOMES, globals())
