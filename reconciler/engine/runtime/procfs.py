"""Linux process facts from /proc: is a recorded pid still the process we started, and which processes
belong to a pod (found by the marker in their environment) after the engine crashed."""

from __future__ import annotations

import contextlib
import os
import signal


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start ticks) of a pid, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    try:
        return rest[0], int(rest[2]), int(rest[19])
    except (IndexError, ValueError):
        return None


def start_ticks(pid: int) -> int:
    st = stat(pid)
    return st[2] if st else 0


def alive(pid: int, ticks: int) -> bool:
    """The pid exists, is not a zombie, and is the same process (same start time) we recorded."""
    if pid <= 0:
        return False
    st = stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (not ticks or st[2] == ticks)


def group_alive(pgid: int) -> bool:
    """Any process left in the group (a pod's children can outlive its shell). Zombies count until reaped."""
    if pgid <= 0:
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def find_group_leaders(marker: str) -> list[int]:
    """Process-group leaders whose environment holds ``marker`` (``NAME=value``)."""
    needle = marker.encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read() + b"\0"
        except OSError:
            continue
        if b"\0" + needle in b"\0" + env:
            st = stat(pid)
            if st and st[1] == pid and st[0] not in ("Z", "X"):
                found.append(pid)
    return found
