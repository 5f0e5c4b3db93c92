"""Kubernetes name syntaxes. Each check returns why a value is invalid, or None when it is fine."""

from __future__ import annotations

import re
from functools import lru_cache

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


# Domains, namespaces and images repeat in every manifest: their verdicts are kept (a bounded number).
@lru_cache(maxsize=1024)
def dns1123_label(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > 63:
        return f"is {len(value)} characters long (at most 63)"
    if not _LABEL.fullmatch(value):
        return "must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


@lru_cache(maxsize=1024)
def dns1123_subdomain(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > 253:
        return f"is {len(value)} characters long (at most 253)"
    if not _SUBDOMAIN.fullmatch(value):
        return (
            "must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit "
            "(a DNS-1123 subdomain)"
        )
    return None


def qualified_name(value: str) -> str | None:
    """A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of up to 63
    characters."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "has an empty prefix before '/'"
        why = dns1123_subdomain(prefix)
        if why:
            return f"has a prefix {prefix!r} that {why}"
    if not name:
        return "has an empty name"
    if len(name) > 63:
        return f"has a name part of {len(name)} characters (at most 63)"
    if not _QUALIFIED.fullmatch(name):
        return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def label_value(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return f"is {len(value)} characters long (at most 63)"
    if not _QUALIFIED.fullmatch(value):
        return (
            "must be empty or letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return None


def iana_service_name(value: str) -> str | None:
    if len(value) > 15:
        return f"is {len(value)} characters long (at most 15)"
    if not _SVC_NAME.fullmatch(value):
        return "must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    if "--" in value:
        return "must not contain '--'"
    if not any(c.isalpha() for c in value):
        return "must contain at least one letter"
    return None


# A container image reference, as the Docker distribution library parses it (distribution/reference,
# regexp.go): [domain[:port]/]path-component(/path-component)*[:tag][@digest]
_ALNUM = r"[a-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@{_DIGEST})?"
)


def looks_like_image_reference(value: str) -> bool:
    """``secretflow/psi:latest``: a container image, which users put where an AppImage name belongs. True
    for a value with a ``/``, ``:`` or ``@`` that is a valid image reference (Docker's grammar,
    distribution/reference): ``../sleeper-image`` is not one (``..`` is no path component)."""
    return ("/" in value or ":" in value or "@" in value) and _IMAGE_REFERENCE.fullmatch(value) is not None


def looks_like_path(value: str) -> bool:
    """``../sleeper-image``, ``./apps/x.yaml``, ``/abs``: a file path, where an object name belongs."""
    parts = value.split("/")
    return len(parts) > 1 and (value.startswith("/") or any(p in (".", "..") for p in parts))
