"""An object's name as a file or directory name that fits the filesystem: the one place kgitops turns a
name into a path component (status files, the status branch's paths, the engine's task, pod and output
folders and their ``.previous/`` entries).

A path component holds at most 255 bytes (``NAME_MAX`` of Linux' ext4, XFS, btrfs and tmpfs; POSIX
``{NAME_MAX}``), while a Kubernetes object name may be a DNS-1123 subdomain of 253 characters, and kgitops
adds suffixes (``.yaml``, ``-<uid>-<time>``) and temp-file decorations. A name that fits is used as it is;
a longer one becomes ``<the first characters of the name>_<16 hex digits>``: a BLAKE2b digest of the whole
name, so the same name always gives the same file name and two names that differ give different ones. The
``_`` cannot occur in a Kubernetes name, so a shortened file name is never the file name of another object.
"""

from __future__ import annotations

import hashlib

NAME_MAX = 255  # bytes in one path component (Linux ``NAME_MAX``, ``limits.h``)
DIGEST_HEX = 16  # hex digits of the digest a shortened name ends with
SHORTENED_MARK = "_"  # between the kept characters and the digest; never in a Kubernetes name


def fitting_name(name: str, suffix: str = "", room: int = 0) -> str:
    """``name + suffix`` when it fits in ``NAME_MAX - room`` bytes (UTF-8), else the name shortened to
    ``<prefix>_<digest>`` and then ``suffix``. ``room``: bytes the caller will add around the result (a
    temp file's ``.<pid>.tmp``, ``-<uid>-<time>``), which must still fit. Stable: the same arguments give
    the same result. Raises ``ValueError`` when not even the digest and ``suffix`` fit."""
    whole = name + suffix
    limit = NAME_MAX - room
    if len(whole) <= limit and (whole.isascii() or len(whole.encode("utf-8")) <= limit):
        return whole  # (a Kubernetes name is ASCII: one byte a character)
    keep = limit - len(suffix.encode("utf-8")) - len(SHORTENED_MARK) - DIGEST_HEX
    if keep < 1:
        raise ValueError(f"no file name of {limit} bytes holds a shortened name and {suffix!r}")
    prefix = name.encode("utf-8")[:keep].decode("utf-8", "ignore")
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=DIGEST_HEX // 2).hexdigest()
    return f"{prefix}{SHORTENED_MARK}{digest}{suffix}"


def is_shortened(file_name: str) -> bool:
    """Whether ``file_name`` came from ``fitting_name`` shortening a name (the object's name is then not
    in it, and must be read from the file)."""
    return SHORTENED_MARK in file_name
