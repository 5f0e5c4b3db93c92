"""A cache of checked config files, so a command that reads ``kgitops.yaml`` does not load the YAML parser
and the schema check every time (together about 15 ms of ``kgitops job list``).

The file is the truth: an entry is used only when the file's bytes are exactly the bytes it was made from
(compared whole, so no timestamp race and no hash collision can serve a stale config), and when kgitops and
its ``schemas/config.json`` are the ones that checked them. Anything else (no entry, another text, a damaged
or unreadable cache, another version) reads the file as if there were no cache. Only files that passed the
schema are kept; files holding a secret inline (``source.https_password``, ``webhook.secret``,
``forge.token``) are never copied here.

Where: ``$XDG_CACHE_HOME/kgitops/config.json`` (default ``~/.cache/kgitops/config.json``, the XDG Base
Directory specification), mode 0600, the most recent ``MAX_ENTRIES`` files by absolute path. Deleting it is
always safe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconciler import __version__

CACHE_FILE = "config.json"
MAX_ENTRIES = 16
# settings whose value is a secret when given inline (schemas/config.json); such files are not cached
INLINE_SECRETS = (("source", "https_password"), ("webhook", "secret"), ("forge", "token"))
_SCHEMA = Path(__file__).resolve().parent / "schemas" / "config.json"


def cache_path() -> Path | None:
    """``$XDG_CACHE_HOME/kgitops/config.json``, else ``~/.cache/kgitops/config.json``; None (no cache) when
    neither names an absolute directory (no ``HOME``: nothing is written under the working directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgitops" / CACHE_FILE if os.path.isabs(base) else None


def _checker() -> list[Any]:
    """What checked an entry: this kgitops version and its config schema file's (size, mtime in ns)."""
    st = _SCHEMA.stat()
    return [__version__, st.st_size, st.st_mtime_ns]


def _read() -> dict[str, Any]:
    """The cache's entries (absolute path -> {"text", "data"}); {} when missing, damaged or from another
    kgitops or schema."""
    path = cache_path()
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_bytes())
        if raw.get("checker") != _checker() or not isinstance(raw.get("entries"), dict):
            return {}
        entries: dict[str, Any] = raw["entries"]
        return entries
    except (OSError, ValueError, AttributeError):
        return {}


def lookup(path: Path, text: bytes) -> dict[str, Any] | None:
    """The checked data of the config file at absolute ``path`` whose bytes are ``text``, if cached."""
    entry = _read().get(str(path))
    try:
        if isinstance(entry, dict) and entry["text"] == text.decode("utf-8"):
            data = entry["data"]
            return data if isinstance(data, dict) else None
    except (KeyError, UnicodeDecodeError):
        return None
    return None


def remember(path: Path, text: bytes, data: dict[str, Any]) -> None:
    """Keep the checked ``data`` of the config file at absolute ``path`` (bytes ``text``), unless it holds
    an inline secret or does not survive JSON unchanged (then nothing is written). Failing to write the
    cache (read-only home, full disk) is not an error: the next command reads the file again."""
    if any(isinstance(data.get(s), dict) and data[s].get(k) for s, k in INLINE_SECRETS):
        return
    try:
        encoded = json.dumps(data, allow_nan=False)
        if json.loads(encoded) != data:
            return
        entries = _read()
        entries.pop(str(path), None)
        entries[str(path)] = {"text": text.decode("utf-8"), "data": data}
        while len(entries) > MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        target = cache_path()
        if target is None:
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = target.with_name(f".{CACHE_FILE}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"checker": _checker(), "entries": entries}, f)
        os.replace(temp, target)  # readers see the old cache or the new one, never half of one
    except (OSError, ValueError, UnicodeDecodeError):
        return
