"""Checking ``kgitops.yaml`` against its JSON Schema (``schemas/config.json``), with positions and fixes.

The schema is the one reference for every setting: its type, range, default and meaning. It is shipped in the
package (``reconciler/schemas/config.json``) so editors can use it too, and ``docs/config.md`` is rendered
from it (``python -m reconciler.config_schema docs/config.md``; a test keeps the two in step).

``check(document)`` returns every problem of a parsed config document (``reconciler.load.documents``), each
with the 1-based line and column of the offending value (of the key, for an unknown setting), the dotted key,
what was expected and how to fix it. Unknown settings get a "did you mean" from the known ones at that level.
Besides JSON Schema's keywords, the schema uses one annotation of its own, ``x-expected``: what a value
matching ``pattern`` looks like, in words, for messages and docs.
"""

from __future__ import annotations

import json
import math
import pkgutil
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.load.documents import Document

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "config.json"


@dataclass(frozen=True)
class ConfigProblem:
    """One problem of a config file: where (1-based line/column), which key, and the message with its fix."""

    line: int
    column: int
    key: str
    message: str

    def render(self, file: str) -> str:
        return f"{file}:{self.line}:{self.column}: {self.message}"


@cache
def load_config_schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), as shipped in the package."""
    # the package loader's own read (a file, or a member of a zip): importlib.resources.files() would load
    # tempfile, random and zipfile into every command that reads a config file
    raw = pkgutil.get_data("reconciler", f"schemas/{SCHEMA_FILE}")
    assert raw is not None, "the package's loader reads data files"
    data: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return data


def _finite_number(checker: Any, instance: Any) -> bool:
    """JSON Schema's number, without booleans, NaN and infinities (YAML has ``.nan`` and ``.inf``)."""
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return math.isfinite(instance)


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # 30-60 ms to import: only for a file the fast path doubts
    from jsonschema.validators import extend

    checker = Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number)
    strict = extend(Draft202012Validator, type_checker=checker)
    return strict(load_config_schema())


def check(document: Document) -> list[ConfigProblem]:
    """Every problem of the config document, in file order; empty when it conforms to the schema.

    A document ``surely_valid`` passes without loading jsonschema; any other is checked by jsonschema, which
    alone decides what is wrong and says so."""
    if surely_valid(load_config_schema(), document.data):
        return []
    problems: list[ConfigProblem] = []
    # a value of the wrong type also breaks its enum or pattern: say the first thing only, once per key
    errors = sorted(_validator().iter_errors(document.data), key=lambda e: e.validator != "type")
    seen: set[str] = set()
    for error in errors:
        for problem in _problems(error, document):
            if problem.key not in seen:
                seen.add(problem.key)
                problems.append(problem)
    return sorted(problems, key=lambda p: (p.line, p.column, p.key))


# JSON Schema keywords that only annotate (draft 2020-12 "meta-data" vocabulary, and ours: x-expected)
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples", "x-expected"})
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: _finite_number(None, v),
}


def surely_valid(schema: Any, value: Any) -> bool:
    """True only when ``value`` certainly conforms to ``schema`` (the JSON Schema 2020-12 keywords of
    ``schemas/config.json``: type, properties, additionalProperties, items, enum, minimum, maximum,
    exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern). Each check is as strict as
    jsonschema's or stricter, and any other keyword answers False, so False means "ask jsonschema": the
    usual, valid config file is checked without importing it (tests/config/test_config_schema.py keeps
    the two in step on generated documents)."""
    if not isinstance(schema, dict):
        return schema is True
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if not _keyword_holds(keyword, rule, schema, value):
            return False
    return True


def _keyword_holds(keyword: str, rule: Any, schema: dict[str, Any], value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if keyword == "type":
        names = rule if isinstance(rule, list) else [rule]
        return any(name in _TYPES and _TYPES[name](value) for name in names)
    if keyword == "properties":
        return not isinstance(value, dict) or all(
            surely_valid(rule[k], v) for k, v in value.items() if k in rule
        )
    if keyword == "additionalProperties":
        known = schema.get("properties", {})
        extra = [v for k, v in value.items() if k not in known] if isinstance(value, dict) else []
        return all(surely_valid(rule, v) for v in extra)
    if keyword == "items":
        if not isinstance(value, list):
            return True
        return isinstance(rule, dict) and all(surely_valid(rule, v) for v in value)
    if keyword == "enum":  # no True for 1: jsonschema tells booleans from numbers
        return any(type(value) is type(e) and value == e for e in rule)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if not number:
            return True
        if keyword == "minimum":
            return bool(value >= rule)
        if keyword == "maximum":
            return bool(value <= rule)
        return bool(value > rule) if keyword == "exclusiveMinimum" else bool(value < rule)
    if keyword in ("minLength", "maxLength", "pattern"):
        if not isinstance(value, str):
            return True
        if keyword == "pattern":
            return re.search(rule, value) is not None
        return len(value) >= rule if keyword == "minLength" else len(value) <= rule
    return False


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "the config"


def _problems(error: ValidationError, document: Document) -> list[ConfigProblem]:
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(schema.get("properties", {}))
        out = []
        for key in sorted(k for k in error.instance if k not in known):
            line, column = document.locate((*path, key), key=True)
            out.append(ConfigProblem(line, column, _dotted((*path, key)), _unknown(path, key, known)))
        return out
    line, column = document.locate(path)
    key = _dotted(path)
    return [ConfigProblem(line, column, key, _message(error, key, path, schema))]


@cache
def _homes() -> dict[str, list[str]]:
    """Setting name -> the dotted paths of the sections that have it (``state_dir`` -> ``[engine]``)."""
    out: dict[str, list[str]] = {}

    def walk(schema: dict[str, Any], prefix: str) -> None:
        for name, sub in schema.get("properties", {}).items():
            out.setdefault(name, []).append(prefix)
            walk(sub, f"{prefix}.{name}" if prefix else name)

    walk(load_config_schema(), "")
    return out


def _unknown(path: tuple[str | int, ...], key: str, known: list[str]) -> str:
    import difflib  # the suggestions of a refused file only

    where = _dotted((*path, key))
    guess = key.replace("-", "_").lower()
    close = [guess] if guess in known else difflib.get_close_matches(guess, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    homes = [h for h in _homes().get(guess, []) if h and not h.startswith("approvals.domains")]
    if not close and homes:  # a known setting in the wrong section
        hint = f"`{guess}` belongs under `{homes[0]}` (`{homes[0]}.{guess}`); "
    here = f"under `{_dotted(path)}`" if path else "at the top level"
    return f"unknown setting `{where}`; {hint}known settings {here}: {', '.join(known)}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def _scalar(value: Any) -> str:
    """A scalar as YAML wrote it (near enough): ``1.0`` stays ``1.0``, booleans are true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        awkward = value == "" or value.strip() != value or ": " in value or " #" in value
        awkward = awkward or value[0] in "[{&*!|>'\"%@`#"
        return json.dumps(value) if awkward else value
    return str(value)


def expected(schema: dict[str, Any]) -> str:
    """What a value of this schema is, in words: ``a number > 0 and ≤ 3600``, ``a list of strings``, ..."""
    kind = schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: null is the same as leaving the key out
        others = [k for k in kind if k != "null"]
        return expected({**schema, "type": others[0] if len(others) == 1 else others})
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        return "a list of strings"
    if kind == "object":
        return "a mapping"
    if kind in ("number", "integer"):
        words = ["a whole number" if kind == "integer" else "a number"]
        bounds = []
        if "minimum" in schema:
            bounds.append(f">= {schema['minimum']:g}")
        if "exclusiveMinimum" in schema:
            bounds.append(f"> {schema['exclusiveMinimum']:g}")
        if "maximum" in schema:
            bounds.append(f"<= {schema['maximum']:g}")
        return " ".join(words + [" and ".join(bounds)] if bounds else words)
    if "x-expected" in schema:  # our annotation for a pattern, in words
        return str(schema["x-expected"])
    return "a string"


def _example(schema: dict[str, Any]) -> Any:
    examples = schema.get("examples") or []
    if examples:
        return examples[0]
    default = schema.get("default")
    return default if default not in (None, "") else None


def _message(error: ValidationError, key: str, path: tuple[str | int, ...], schema: dict[str, Any]) -> str:
    value = error.instance
    name = str(path[-1]) if path and isinstance(path[-1], str) else key
    if error.validator == "type":
        if path and isinstance(path[-1], int):  # a list item
            return f"`{key}` must be a string, not {_show(value)}; quote it: \"{_scalar(value)}\""
        want = expected(schema)
        text = f"`{key}` must be {want}, not {_show(value)}"
        if schema.get("type") == "array" and isinstance(value, str | int | float):
            return f"{text}; write a list: `{name}: [{_yaml(value)}]`"
        if schema.get("type") == "string" and "pattern" not in schema and not isinstance(value, list | dict):
            return f"{text}; quote it: `{name}: \"{_scalar(value)}\"`"
        if schema.get("type") == "object" and "properties" in schema:
            known = ", ".join(schema["properties"])
            return f"`{key}` must be a mapping of settings ({known}), not {_show(value)}"
        example = _example(schema)
        if example is not None:
            return f"{text}; e.g. `{name}: {_yaml(example)}`"
        return text
    if error.validator in ("minimum", "exclusiveMinimum", "maximum"):
        default = schema.get("default")
        tail = f" (the default is {default:g})" if isinstance(default, int | float) else ""
        return f"`{key}` must be {expected(schema)}, not {value}; use a value in that range{tail}"
    if error.validator == "enum":
        choices = [str(v) for v in schema.get("enum", [])]
        import difflib

        close = difflib.get_close_matches(str(value).lower(), choices, n=1, cutoff=0.5)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"`{key}` must be one of {', '.join(choices)}, not {_show(value)}{hint}"
    if error.validator == "pattern":
        example = _example(schema)
        tail = f"; e.g. `{name}: {_yaml(example)}`" if example is not None else ""
        return f"`{key}` must be {expected(schema)}, not {_show(value)}{tail}"
    if error.validator == "minLength":
        if path and isinstance(path[-1], int):
            return f"`{key}` is empty; remove it or give a value"
        return f"`{key}` must not be empty" + (
            f"; e.g. `{name}: {_yaml(schema['default'])}`" if schema.get("default") else ""
        )
    if error.validator == "maxLength":
        return f"`{key}` is longer than {schema.get('maxLength')} characters"
    return f"`{key}`: {error.message}"  # pragma: no cover - every keyword the schema uses is handled above


# -- the reference in docs/config.md ---------------------------------------------------------------------

BEGIN = "<!-- BEGIN generated from schemas/config.json -->"
END = "<!-- END generated from schemas/config.json -->"


def _type_words(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "mapping of domain → settings"
    return expected(schema).removeprefix("a ").removeprefix("an ").replace("true or false", "boolean")


def _default_words(schema: dict[str, Any]) -> str:
    default = schema.get("default")
    if default is None:
        return "unset"
    if default == {}:
        return "{}"
    return f"`{_yaml(default)}`" if default != "" else '`""`'


def render_reference() -> str:
    """Markdown tables (one per section) of every setting: key, type, default, meaning."""
    schema = load_config_schema()
    out: list[str] = []

    def table(prefix: str, props: dict[str, Any]) -> None:
        nested: list[tuple[str, dict[str, Any]]] = []
        rows = []
        for name, sub in props.items():
            if sub.get("type") == "object" and "properties" in sub:
                nested.append((f"{prefix}.{name}", sub))
                continue
            meaning = str(sub.get("description", "")).replace("|", "\\|")
            rows.append(f"| `{prefix}.{name}` | {_type_words(sub)} | {_default_words(sub)} | {meaning} |")
            trust = sub.get("additionalProperties")
            if isinstance(trust, dict) and "properties" in trust:
                nested.append((f"{prefix}.{name}.<domain>", trust))
        if rows:
            out.extend(["| Key | Type | Default | Meaning |", "|---|---|---|---|", *rows, ""])
        for sub_prefix, sub in nested:
            out.extend([f"### `{sub_prefix}`", "", sub.get("description", ""), ""])
            table(sub_prefix, sub["properties"])

    for section, sub in schema["properties"].items():
        out.extend([f"### `{section}`", "", sub.get("description", ""), ""])
        table(section, sub["properties"])
    return "\n".join(out).rstrip() + "\n"


def update_doc(path: Path) -> bool:
    """Rewrite the generated part of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n\n{render_reference()}\n{END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool; the test checks its output
    for arg in sys.argv[1:]:
        print(f"{arg}: {'updated' if update_doc(Path(arg)) else 'up to date'}")
