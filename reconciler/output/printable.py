"""Untrusted text made safe to print on one line: the one home of this rule for every text kgitops writes.

Object names, file paths, finding messages, values, status messages and approval records come from
manifests, Git trees and backends, that is from whoever can open a pull request. Printed as they are, a line
break in one forges a line of its own (``::error file=…::`` is a GitHub Actions workflow command, a fake
``created`` line a fake outcome), an ESC starts a terminal escape sequence (colours, cursor moves, window
titles, OSC 8 links). Every renderer passes such text through ``printable`` before it adds its own layout
and colour, so a line it writes is one line, and the only escape sequences in it are its own:
``reconciler.output`` (validate's formats), ``reconciler.render`` (plan, diff, sync, status, job and task
tables, job details, graphs), the CLI's own lines and ``error:`` messages, and the text logs of ``watch`` and
``serve`` (``reconciler.output.log_format``).
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls (line feed, carriage return, tab, ESC, ...), DEL, C1 controls (0x80-0x9f: 0x9b is a one-byte
# CSI on some terminals, 0x85 a line break), the Unicode line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates ("Trojan Source", CVE-2021-42574) that reorder what a line shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character shown as a Python-style escape: a line feed as ``\\n``, a
    carriage return as ``\\r``, a tab as ``\\t``, ESC as ``\\x1b``, U+2028 as ``\\u2028``; everything else,
    CJK and other printable Unicode included, as it is. Text without such characters is returned as it is
    (the common case costs one regular-expression search)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)
