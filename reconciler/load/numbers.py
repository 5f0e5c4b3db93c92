"""Plain YAML scalars -> numbers, exactly as Kubernetes reads them.

The API server decodes manifests with sigs.k8s.io/yaml, which resolves plain scalars with go-yaml v2
(``resolve.go``): underscores are removed, then Go's ``strconv.ParseInt(s, 0, 64)`` is tried (``0x``/``0o``/
``0b`` prefixes, a leading ``0`` for octal), then ``strconv.ParseUint(s, 0, 64)``, then ``ParseFloat`` when
the text looks like a float (``yamlStyleFloat``). Anything else, or a number out of range, stays a string.
So ``1:0:0`` is the string ``"1:0:0"`` (YAML 1.1's sexagesimal integers are not Kubernetes'), ``0x``
followed by a thousand digits is a string, and ``1e400`` is a string (Go reports ErrRange).

Every step here is linear in the text and bounded: no integer wider than 64 bits is ever built, so no input
can hit Python's 4,300-digit ``int()`` limit or its quadratic conversion.
"""

from __future__ import annotations

import math
import re

_FLOAT_STYLE = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL: dict[str, float] = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
_DIGITS = {16: frozenset("0123456789abcdefABCDEF"), 10: frozenset("0123456789"), 8: frozenset("01234567"),
           2: frozenset("01")}
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
# 64 binary digits and a prefix: nothing longer can be a 64-bit integer in any base.
_MAX_INT_TEXT = 70


def go_number(text: str) -> int | float | str:
    """The value go-yaml v2 gives the plain scalar ``text``: an int, a float, or ``text`` itself.

    ``text`` is a plain (unquoted, untagged) scalar that starts with a digit, a sign or a dot.
    """
    if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1) and len(text) <= 18:
        return int(text)  # the common case: a short decimal (no sign, no octal 0, always within int64)
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if text.startswith("."):  # go-yaml: only ParseFloat, on the text as written
        return _go_float(text) if "_" not in text else text
    plain = text.replace("_", "")
    value = _go_int(plain)
    if value is not None:
        return value
    if _FLOAT_STYLE.match(plain):
        return _go_float(plain)
    return text


def _go_float(text: str) -> float | str:
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text  # strconv.ParseFloat: ErrRange, so go-yaml keeps a string


def _go_int(plain: str) -> int | None:
    """``strconv.ParseInt(plain, 0, 64)``, falling back to ``ParseUint``; None when neither accepts it."""
    if len(plain) > _MAX_INT_TEXT:
        return None
    sign = 1
    body = plain
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    base = 10
    prefix = body[:2].lower()
    if prefix in ("0x", "0o", "0b"):
        base = {"0x": 16, "0o": 8, "0b": 2}[prefix]
        body = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base = 8
    if not body or not set(body) <= _DIGITS[base]:
        return None
    value = sign * int(body, base)
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    if value <= _UINT64_MAX and plain[0] not in "+-":  # ParseUint takes no sign
        return value
    return None
