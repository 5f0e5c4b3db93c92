"""Credentials never leave a URL for a log, a message, a label or a status record.

A Git URL can carry a secret in two places: the user-info (``https://user:token@host/...``) and the query
string (``https://host/repo.git?access_token=...``, ``?token=...``, ``?private_token=...``). Both are masked
with ``***``; every query value is masked, whatever its name, because a query parameter that carries a secret
has no reserved name.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://then anything up to whitespace, a quote or a bracket that ends it in prose
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}`]+")


def _mask_query(query: str) -> str:
    parts: list[str] = []
    for item in query.split("&"):
        if not item:
            parts.append(item)
            continue
        key, eq, _value = item.partition("=")
        parts.append(f"{key}={MASK}" if eq else MASK)
    return "&".join(parts)


def redact_url(location: str) -> str:
    """The location without credentials: user-info and query values become ``***``."""
    scheme, sep, rest = location.partition("://")
    if not sep:
        return location
    rest, hash_, fragment = rest.partition("#")
    rest, qmark, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = f"{MASK}@" + host.rpartition("@")[2]
    out = f"{scheme}://{host}{slash}{path}"
    if qmark:
        out += "?" + _mask_query(query)
    if hash_:
        out += "#" + (MASK if fragment else "")
    return out


def redact_urls(text: str, *known: str) -> str:
    """``text`` with every URL in it redacted; ``known`` locations are replaced first, verbatim (a message may
    quote a URL in a shape the pattern would cut short)."""
    for location in known:
        if location and "://" in location:
            text = text.replace(location, redact_url(location))
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
