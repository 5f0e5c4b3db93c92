"""Progress lines on stdout (the engine keeps them in the pod's log): one line per step, with elapsed time."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _START:6.2f}s] {message}", file=sys.stdout, flush=True)
