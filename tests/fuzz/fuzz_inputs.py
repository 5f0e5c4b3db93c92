"""Hypothesis strategies that mutate real manifests at the byte level and at the structure level.

Seeds are the example jobs, task and AppImage of this repository (real manifests from the seed documents).
Byte mutations splice in the tokens that broke loaders before: anchors and aliases, merge keys, explicit tags,
flow brackets, tabs, NUL, sexagesimal and huge numbers. Structure mutations change a parsed manifest and dump
it again: a key dropped, a value of another type, a misspelt or missing kind, apiVersion slipped under
metadata, numbers past int32 and int64.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SEEDS: list[bytes] = [
    p.read_bytes()
    for p in sorted((ROOT / "examples").glob("*/*.yaml"))
    if p.parent.name in ("jobs", "appimages")
]

# quick in .ci/run; `KGITOPS_FUZZ=long` (see bench/fuzz.py) for the long run of 100,000+ inputs
settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "long", max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False
)
settings.load_profile(os.environ.get("KGITOPS_FUZZ", "ci"))

TOKENS = [
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!int ",
    b"!!binary ",
    b"!custom ",
    b"\t",
    b"\x00",
    b"\xff",
    b"'",
    b'"',
    b"#",
    b"\n",
    b"\n---\n",
    b"? ",
    b"|\n",
    b">-\n",
    b"~",
    b"0x",
    b"1:0:0:0:0",
    b"9" * 5000,
    b"0x" + b"f" * 400,
    b"1e400",
    b".inf",
    b"-0b101",
    b"y",
    b"off",
    b"\xe4\xb8\xad",
]


@st.composite
def byte_mutants(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "flip", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            token = draw(st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8)))
            data[at:at] = token
        elif op == "delete":
            data[at : at + draw(st.integers(1, 40))] = b""
        elif op == "duplicate":
            chunk = data[at : at + draw(st.integers(1, 200))]
            data[at:at] = chunk * draw(st.integers(1, 4))
        elif op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
    return bytes(data)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1, 2**63, 99999999999, 129, 0, -1]),
    st.text(max_size=20),
    st.sampled_from(["../x", "a" * 300, "UPPER", "", "job/../../etc", "1:0:0"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def structure_mutants(draw: st.DrawFn) -> bytes:
    doc = yaml.safe_load(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "delete", "kind", "indent"]))
        if op == "kind":
            kinds = ["KusicaJob", "kusciajob", "", "KusciaJobs", "AppImage", None]
            doc["kind"] = draw(st.sampled_from(kinds))
        elif op == "indent" and isinstance(doc.get("metadata"), dict):
            doc["metadata"]["apiVersion"] = doc.pop("apiVersion", None)
            doc["metadata"]["kind"] = doc.pop("kind", None)
        else:
            paths = [p for p in _paths(doc) if p]
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            with contextlib.suppress(KeyError, IndexError, TypeError):
                doc = _set(doc, path, draw(_VALUES), delete=op == "delete")
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


manifests = st.one_of(byte_mutants(), structure_mutants())
