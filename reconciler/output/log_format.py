"""Text log lines that are ``printable``: what ``kgitops watch`` and ``kgitops serve`` log as text."""

from __future__ import annotations

import logging

from reconciler.output.printable import printable

__all__ = ["PrintableFormatter"]


class PrintableFormatter(logging.Formatter):
    """A text log formatter whose lines are ``printable``: a message carrying a name or a path is one line
    of the log, whatever the name holds. A traceback kgitops logs (``exc_info``) follows on its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return printable(super().formatMessage(record))
