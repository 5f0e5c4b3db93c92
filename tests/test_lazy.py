"""A package's lazy exports (``reconciler.lazy``): a name loads its module on first use, is kept, and any
other name is the AttributeError Python gives (``hasattr`` and ``from … import`` rely on it)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_a_lazy_name_loads_its_module_on_first_use_only() -> None:
    code = (
        "import sys, reconciler.views as v\n"
        "before = 'reconciler.views.build' in sys.modules\n"
        "f = v.job_info\n"
        "print(before, 'reconciler.views.build' in sys.modules, v.__dict__['job_info'] is f)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]


def test_an_unknown_name_is_python_s_attribute_error() -> None:
    import reconciler.sdk

    with pytest.raises(AttributeError, match="module 'reconciler.sdk' has no attribute 'no_such_call'"):
        reconciler.sdk.no_such_call  # noqa: B018
    assert not hasattr(reconciler.sdk, "no_such_call")
    with pytest.raises(ImportError):
        from reconciler.model import NoSuchSpec  # noqa: F401
