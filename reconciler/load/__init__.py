"""Reading manifests: file discovery (with untrusted-input limits) and YAML documents with positions."""

from reconciler.load.discover import DiscoveredFile, PathNotFound, discover, read_source
from reconciler.load.documents import MAX_DEPTH, Document, LoadError, iter_documents, locate

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
