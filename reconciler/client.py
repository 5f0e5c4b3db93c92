"""Deprecated home of the job SDK: use ``reconciler.sdk`` (``from reconciler.sdk import Client``).

Kept so code written against ``reconciler.client`` keeps importing: it re-exports ``reconciler.sdk.jobs``.
"""

from __future__ import annotations

from reconciler.sdk.jobs import *  # noqa: F403
from reconciler.sdk.jobs import __all__ as __all__
