"""A request body as a JSON object, refused with a reason (never a traceback) when it is not one.

Nesting is measured before parsing (at most ``max_depth`` C-speed passes over the brackets), so a body such as
``[[[[...]]]]`` nested 100,000 deep is refused up front instead of exhausting the parser's recursion (a
``RecursionError``, which is also caught). KusciaAPI
requests nest at most six levels; the limit (``ServerLimits.max_json_depth``, 64 by default) leaves room.
"""

from __future__ import annotations

import json
import re
from typing import Any

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
# every bracket as ( or ), everything else deleted
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_OTHERS = bytes(b for b in range(256) if b not in b"[]{}")


class BodyError(ValueError):
    """The body is not a JSON object KusciaAPI can take; the message says why."""


class NestingError(BodyError):
    """The body nests deeper than the server's limit (a limit of kgitops', answered 400)."""


def too_deep(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (brackets inside strings do not count).

    Each pass deletes the innermost ``()`` pairs, so after ``limit`` passes a pair is left only where the
    nesting is deeper: at most ``limit`` passes of C-speed ``bytes.replace`` over a shrinking string."""
    shape = _STRING.sub(b"", raw).translate(_BRACKETS, _OTHERS)
    for _ in range(limit):
        if not shape:
            return False
        shorter = shape.replace(b"()", b"")
        if shorter == shape:
            return False  # unbalanced: the JSON parser says what is wrong
        shape = shorter
    return b"()" in shape


def parse_object(raw: bytes, max_depth: int) -> dict[str, Any]:
    if too_deep(raw, max_depth):
        raise NestingError(f"request body is nested more than {max_depth} levels deep")
    try:
        doc = json.loads(raw or b"{}")
    except RecursionError:
        raise NestingError(f"request body is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        raise BodyError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BodyError("request body is not valid JSON: the body must be a JSON object")
    return doc
