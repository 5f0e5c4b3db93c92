"""``kgitops.yaml`` is checked against ``schemas/config.json``: every setting has a type and range, and every
mistake is reported with file:line:column, the key and the fix; the schema, the dataclasses and
docs/config.md agree."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config import Config, ConfigError, load_config, parse_config
from reconciler.config_schema import (
    BEGIN,
    END,
    _validator,
    load_config_schema,
    render_reference,
    surely_valid,
)

REPO = Path(__file__).resolve().parents[2]


def problems_of(text: str, tmp_path: Path) -> str:
    path = tmp_path / "kgitops.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "Traceback" not in message
    return message


# -- the cases of the issue ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "engine:\n  auto_approve: bob\n",
            ":2:17: `engine.auto_approve` must be a list of strings, not the string 'bob'; "
            "write a list: `auto_approve: [bob]`",
        ),
        (
            "engine:\n  trusted_appimages: x\n",
            ":2:22: `engine.trusted_appimages` must be a list of strings, not the string 'x'; "
            "write a list: `trusted_appimages: [x]`",
        ),
        (
            "engine:\n  kill_grace_seconds: soon\n",
            ":2:23: `engine.kill_grace_seconds` must be a number >= 0 and <= 3600, not the string 'soon'; "
            "e.g. `kill_grace_seconds: 5`",
        ),
        (
            "prune:\n  max: -3\n",
            ":2:8: `prune.max` must be a whole number >= 0, not -3; use a value in that range",
        ),
        (
            "status:\n  interval: -5\n",
            ":2:13: `status.interval` must be a number > 0 and <= 86400, not -5; use a value in that range",
        ),
    ],
)
def test_the_issue_cases_are_refused_with_position_key_and_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = problems_of(text, tmp_path)
    assert message.startswith(f"{tmp_path / 'kgitops.yaml'}{expected}"), message


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = (
        "engine:\n"
        "  auto_approve: bob\n"
        "  kill_grace_seconds: soon\n"
        "prune:\n"
        "  max: -3\n"
        "status:\n"
        "  intreval: 5\n"
    )
    lines = problems_of(text, tmp_path).splitlines()
    assert [line.split(": ", 1)[0].rsplit(":", 2)[1:] for line in lines] == [
        ["2", "17"],
        ["3", "23"],
        ["5", "8"],
        ["7", "3"],
    ]
    assert "unknown setting `status.intreval`; did you mean `interval`?" in lines[3]


# -- the whole kind: every setting, every level ------------------------------------------------------------


def _leaves(schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    out = []
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            out.extend(_leaves(sub, (*path, name)))
        elif isinstance(sub.get("additionalProperties"), dict):  # approvals.domains.<domain>
            out.extend(_leaves(sub["additionalProperties"], (*path, name, "bob")))
        else:
            out.append(((*path, name), sub))
    return out


def _sections(schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    out = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            out.extend(_sections(sub, (*path, name)))
        elif isinstance(sub.get("additionalProperties"), dict):
            out.extend(_sections(sub["additionalProperties"], (*path, name, "bob")))
    return out


LEAVES = _leaves(load_config_schema())
SECTIONS = _sections(load_config_schema())


def _nest(path: tuple[str, ...], value: Any) -> dict:
    doc: Any = value
    for step in reversed(path):
        doc = {step: doc}
    return dict(doc)


def _wrong_type(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind in ("number", "integer", "boolean"):
        return "soon"
    if kind == "array":
        return {"a": 1}
    return ["a", "list"]  # strings and enums


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _text(path: tuple[str, ...], value: Any) -> tuple[str, int, int]:
    """Block-style keys, the value in flow style on the last key's line; and the value's line and column."""
    lines = [f"{'  ' * i}{key}:" for i, key in enumerate(path)]
    lines[-1] += f" {json.dumps(value)}"
    return "\n".join(lines) + "\n", len(path), 2 * (len(path) - 1) + len(path[-1]) + 3


@pytest.mark.parametrize(("path", "schema"), LEAVES, ids=[_dotted(p) for p, _ in LEAVES])
def test_every_setting_refuses_a_value_of_the_wrong_type(
    tmp_path: Path, path: tuple[str, ...], schema: dict
) -> None:
    text, line, column = _text(path, _wrong_type(schema))
    message = problems_of("# a comment first\n" + text, tmp_path)
    assert message.startswith(f"{tmp_path / 'kgitops.yaml'}:{line + 1}:{column}: "), message
    assert f"`{_dotted(path)}` must be " in message
    assert len(message.splitlines()) == 1


RANGED = [(p, s) for p, s in LEAVES if {"minimum", "exclusiveMinimum", "maximum"} & set(s)]


@pytest.mark.parametrize(("path", "schema"), RANGED, ids=[_dotted(p) for p, _ in RANGED])
def test_every_number_has_a_range(tmp_path: Path, path: tuple[str, ...], schema: dict) -> None:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    too_big = [schema["maximum"] + 1] if "maximum" in schema else []
    for bad in (low - 1, *too_big, math.nan, math.inf, True):
        with pytest.raises(ConfigError, match=rf"`{_dotted(path)}` must be a (whole )?number"):
            parse_config(yaml.safe_dump(_nest(path, bad)).encode())
    good = schema["default"]
    assert parse_config(yaml.safe_dump(_nest(path, good)).encode()) is not None


def test_numbers_and_booleans_are_plain_values() -> None:
    cfg = parse_config(b"engine: {kill_grace_seconds: 2, autostart: no}\nprune: {max: 3}\n")
    assert cfg.engine.kill_grace_seconds == 2.0 and isinstance(cfg.engine.kill_grace_seconds, float)
    assert cfg.engine.autostart is False and cfg.prune.max == 3
    # a null value is the default, as in manifests
    assert parse_config(b"status:\n  interval:\n").status.interval == 5.0


@pytest.mark.parametrize(("path", "schema"), SECTIONS, ids=[_dotted(p) or "top" for p, _ in SECTIONS])
def test_unknown_settings_at_every_level_name_the_closest_known_one(
    tmp_path: Path, path: tuple[str, ...], schema: dict
) -> None:
    known = list(schema["properties"])
    typo = known[0][:-1] + known[0][-1].upper() + "x"  # close to the first known key
    message = problems_of(yaml.safe_dump(_nest(path, {typo: 1})), tmp_path)
    assert f"unknown setting `{_dotted((*path, typo))}`; did you mean `{known[0]}`?" in message
    assert f":{1 + len(path)}:{1 + 2 * len(path)}: " in message  # the key's own position


def test_dashes_and_enum_values_get_a_suggestion(tmp_path: Path) -> None:
    message = problems_of("engine:\n  kill-grace-seconds: 5\nsync:\n  log_format: JSON\n", tmp_path)
    assert "unknown setting `engine.kill-grace-seconds`; did you mean `kill_grace_seconds`?" in message
    enum = ":4:15: `sync.log_format` must be one of text, json, not the string 'JSON'; did you mean `json`?"
    assert enum in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 1\n", ":1:1: `the config` must be a mapping"),
        ("engine: [1]\n", ":1:9: `engine` must be a mapping of settings (state_dir, trusted_appimages"),
        ("engine:\n  auto_approve: [bob, 7]\n", ":2:23: `engine.auto_approve[1]` must be a string, not 7"),
        ("engine:\n  auto_approve: [bob, '']\n", ":2:23: `engine.auto_approve[1]` is empty"),
        ("sync:\n  metrics_addr: 9102\n", ":2:17: `sync.metrics_addr` must be HOST:PORT"),
        ("backend:\n  kusciaapi: {endpoint: localhost:8082}\n", "`backend.kusciaapi.endpoint` must be an"),
        ("source:\n  ref: 1.0\n", ':2:8: `source.ref` must be a string, not 1.0; quote it: `ref: "1.0"`'),
        ("engine: {}\nengine: {}\n", ":2:1: the config file is not valid YAML: duplicate key 'engine'"),
        ("engine: {\n", ":2:1: the config file is not valid YAML: YAML syntax error"),
        ("engine: {}\n---\nprune: {}\n", ":3:1: the config file holds more than one YAML document"),
    ],
)
def test_other_mistakes_are_positioned(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems_of(text, tmp_path)


def test_an_empty_file_is_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "kgitops.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert load_config(tmp_path / "kgitops.yaml").engine == Config().engine


# -- one reference: schema, dataclasses, docs ----------------------------------------------------------------


def _fields(cls: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("base_dir", "file"):
            continue
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            out |= _fields(type(default), (*prefix, f.name))
        else:
            out[(*prefix, f.name)] = default
    return out


def test_the_schema_describes_every_setting_with_its_real_default() -> None:
    from reconciler.config import DomainTrust

    fields = _fields(Config) | {
        ("approvals", "domains", "bob", *k): v for k, v in _fields(DomainTrust).items()
    }
    leaves = {p: s for p, s in LEAVES} | {("approvals", "domains"): {"default": {}, "description": "x"}}
    assert set(leaves) == set(fields), (set(leaves) ^ set(fields))
    for path, schema in leaves.items():
        assert schema.get("default") == fields[path], path
        assert schema.get("description"), path


def test_docs_config_md_is_generated_from_the_schema_and_linked_from_the_readme() -> None:
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    generated = doc.split(BEGIN, 1)[1].split(END, 1)[0]
    fix = "run: python -m reconciler.config_schema docs/config.md"
    assert generated.strip() == render_reference().strip(), fix
    for path, _ in LEAVES:
        shown = ".".join("<domain>" if p == "bob" else p for p in path)
        assert f"| `{shown}` |" in doc
    assert "(docs/config.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_schema_ships_in_the_package() -> None:
    from importlib import resources

    shipped = resources.files("reconciler").joinpath("schemas", "config.json")
    assert shipped.is_file()
    assert "config.json" in (REPO / "pyproject.toml").read_text() or "schemas/*.json" in (
        REPO / "pyproject.toml"
    ).read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("state_dir: x\n", ":1:1: unknown setting `state_dir`; `state_dir` belongs under `engine`"),
        ("backend:\n  endpoint: x\n", "belongs under `backend.kusciaapi` (`backend.kusciaapi.endpoint`)"),
    ],
)
def test_a_setting_in_the_wrong_section_is_pointed_to_its_section(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in problems_of(text, tmp_path)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(load_config_schema())


# -- the fast path: a valid file is passed without jsonschema; jsonschema decides every other ------------


def _values(schema: Any) -> st.SearchStrategy[Any]:
    """Documents shaped by ``schema`` (mostly right, some wrong in type, range, enum, pattern or key)."""
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
        st.lists(st.text(max_size=3), max_size=2),
    )
    if not isinstance(schema, dict):
        return junk
    kind = schema.get("type")
    if "enum" in schema:
        good: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    elif kind == "object" and "properties" in schema:
        props = schema["properties"]
        good = st.lists(st.sampled_from(sorted(props) + ["unknown_key"]), unique=True, max_size=6).flatmap(
            lambda keys: st.fixed_dictionaries({k: _values(props.get(k, {})) for k in keys})
        )
    elif kind == "object":
        good = st.dictionaries(st.text(max_size=4), _values(schema.get("additionalProperties")), max_size=2)
    elif kind == "array":
        good = st.lists(_values(schema.get("items", {})), max_size=3)
    elif kind == "integer" or kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -5))
        high = schema.get("maximum", low + 10**6)
        good = st.integers(math.floor(low) - 1, math.ceil(high) + 1) | st.floats(low - 1, high + 1)
    elif kind == "string" and "pattern" in schema:
        good = st.from_regex(schema["pattern"]) | st.sampled_from(schema.get("examples", [""]))
    elif kind == "string":
        good = st.text(max_size=schema.get("maxLength", 8) + 1)
    else:
        good = st.booleans()
    return st.one_of(good, good, junk)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.deferred(lambda: _values(load_config_schema())))
def test_the_fast_path_passes_no_document_jsonschema_refuses(document: Any) -> None:
    if surely_valid(load_config_schema(), document):
        assert list(_validator().iter_errors(document)) == []


def test_the_fast_path_passes_the_example_config_and_the_defaults() -> None:
    """What users write goes through without jsonschema (a fast path that never said yes would pass the
    test above)."""
    example = yaml.safe_load((REPO / "examples" / "kgitops.yaml").read_text(encoding="utf-8"))
    assert surely_valid(load_config_schema(), example)
    defaults = {k: v for k, v in dataclasses.asdict(Config()).items() if k not in ("base_dir", "file")}
    assert list(_validator().iter_errors(defaults)) == []
    assert surely_valid(load_config_schema(), defaults)
    assert not surely_valid(load_config_schema(), {**example, "engine": {"auto_approve": "bob"}})
