"""The config's sections compare and print exactly as ``@dataclass`` makes dataclasses do (they share one
``__eq__`` and ``__repr__`` instead of compiling their own at import: ``reconciler.config._Section``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reconciler import config
from reconciler.config import ApprovalsConfig, Config, DomainTrust, EngineConfig, SourceConfig

SECTIONS = [
    cls
    for cls in vars(config).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == config.__name__
]


def _as_plain_dataclass(obj: Any) -> Any:
    """The same object as a dataclass with the generated ``__eq__`` and ``__repr__`` (sections as well)."""
    cls = type(obj)
    plain = dataclasses.make_dataclass(cls.__name__, [(f.name, f.type) for f in dataclasses.fields(cls)])
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)}
    nested = {k: _as_plain_dataclass(v) if dataclasses.is_dataclass(v) else v for k, v in values.items()}
    return plain(**nested)


def test_every_section_shares_the_methods_instead_of_compiling_its_own() -> None:
    """A section declared with a plain ``@dataclass`` would still work, but would cost every command that
    reads the config (``kgitops job list`` included) two more compiled methods at start-up."""
    assert len(SECTIONS) == 14 and Config in SECTIONS and DomainTrust in SECTIONS
    for cls in SECTIONS:
        assert cls.__eq__ is config._Section.__eq__ and cls.__repr__ is config._Section.__repr__, cls


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_repr_is_the_dataclass_repr(cls: type) -> None:
    obj = cls()
    assert repr(obj) == repr(_as_plain_dataclass(obj))
    assert repr(obj).startswith(f"{cls.__name__}(")


def test_a_changed_value_shows_in_repr() -> None:
    cfg = Config(engine=EngineConfig(state_dir="/srv/state", auto_approve=["bob"]))
    cfg.approvals = ApprovalsConfig(domains={"alice": DomainTrust(emails=["a@example.com"])})
    assert repr(cfg) == repr(_as_plain_dataclass(cfg))
    assert "EngineConfig(state_dir='/srv/state', trusted_appimages=[], auto_approve=['bob']" in repr(cfg)
    assert "'alice': DomainTrust(emails=['a@example.com']" in repr(cfg)


def test_equality_is_field_by_field_within_one_class() -> None:
    assert Config() == Config() and EngineConfig() == EngineConfig()
    assert Config() != Config(engine=EngineConfig(autostart=False))
    changed = Config()
    changed.source.ref = "main"
    assert changed != Config()
    assert changed.backend == Config().backend
    # another class with the same fields' values is not equal, as with dataclasses
    assert SourceConfig() != object() and SourceConfig().__eq__(EngineConfig()) is NotImplemented
    with pytest.raises(TypeError, match="unhashable"):
        hash(Config())
