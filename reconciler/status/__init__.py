"""Status written back: status files and status-branch commits."""

from reconciler.status.commits import DEFAULT_BRANCH, StatusBranch, StatusCommitError
from reconciler.status.files import StatusFiles
from reconciler.status.record import StatusRecord, SyncState, live_summary, relative_path, transitions

__all__ = [
    "DEFAULT_BRANCH",
    "StatusBranch",
    "StatusCommitError",
    "StatusFiles",
    "StatusRecord",
    "SyncState",
    "live_summary",
    "relative_path",
    "transitions",
]
