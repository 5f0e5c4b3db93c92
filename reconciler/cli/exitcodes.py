"""The exit-code policy of kgitops, in one place; ``docs/exit-codes.md`` is its table.

    0    the command did what was asked, and the result is clean (in sync, applied, valid)
    1    the command ran, and the answer is "not clean": a difference (diff), something held, OutOfSync,
         failed, refused or in conflict with another source, an approval record ignored or refused (sync),
         error findings (validate), a job that ended Failed (simulate)
    2    the command could not do its work: a usage, config, source or backend (I/O) error
    130  interrupted by SIGINT (Ctrl-C), as shells report it (128 + 2)

Errors carry their own code (``reconciler.errors.KgitopsError.exit_code``, printed by
``reconciler.cli.handler``); ``diff`` and ``sync`` map their outcomes here, so a script never has to parse
the output to know what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.sdk import SyncReport

OK = 0
NOT_CLEAN = 1
ERROR = 2
INTERRUPTED = 130


def diff_code(error: str, in_sync: bool) -> int:
    """0 in sync; 1 on any difference (create, change, prune, OutOfSync, held); 2 when the source failed."""
    if error:
        return ERROR
    return OK if in_sync else NOT_CLEAN


def sync_code(report: SyncReport) -> int:
    """0 when everything was applied or unchanged (and, with --wait, every job succeeded in time); 1 when
    anything is held, OutOfSync, failed, refused or in conflict with another source, an approval record is
    ignored or refused (``SyncReport.problems``), or a followed job failed or timed out."""
    return OK if report.clean and report.waited_ok else NOT_CLEAN
