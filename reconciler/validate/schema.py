"""The CRD schemas, compiled once into closures that check a document in one pass.

A generic JSON-Schema engine re-interprets the schema for every value; here each schema node becomes a small
function specialised for what that node constrains, so a valid ~3 KB manifest costs tens of microseconds,
and a failing one gets the same precise messages in the same pass. Only the keywords Kubernetes' structural
schemas use are supported (the generator guarantees nothing else appears). Semantics follow the API server:
unknown fields are errors (strict field validation), ``x-kubernetes-int-or-string`` takes either type,
patterns apply to strings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from reconciler.model.objects import APP_IMAGE, JOB_APPROVAL, KUSCIA_JOB, KUSCIA_TASK
from reconciler.validate.suggest import closest

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """A schema violation at ``path`` (``at_key``: point at the key, e.g. for an unknown field)."""

    rule: str
    path: Path
    message: str
    at_key: bool = False


Check = Callable[[Any, Path, list[Issue]], None]

# An integer's `format` (from the CRD's Go types) -> (name, lowest, highest value the API server accepts).
INT_FORMATS: dict[str, tuple[str, int, int]] = {
    "int32": ("int32", -(2**31), 2**31 - 1),
    "int64": ("int64", -(2**63), 2**63 - 1),
}

SCHEMA_FILES = {
    KUSCIA_JOB: "kusciajob.json",
    KUSCIA_TASK: "kusciatask.json",
    APP_IMAGE: "appimage.json",
    JOB_APPROVAL: "jobapproval.json",  # kgitops's own kind (approvals through Git)
}


def show_path(path: Path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(document)"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if type(value) is int and value.bit_length() > 192:  # repr() of a huge integer is slow, or refused
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false)",
    "array": "a list",
    "object": "a mapping",
}


def _type_test(type_name: str, int_or_string: bool) -> Callable[[Any], bool]:
    if int_or_string:
        return lambda v: (type(v) is int) or (type(v) is str)
    if type_name == "string":
        return lambda v: type(v) is str
    if type_name == "integer":
        return lambda v: type(v) is int or (type(v) is float and v.is_integer())
    if type_name == "number":
        return lambda v: type(v) in (int, float)
    if type_name == "boolean":
        return lambda v: type(v) is bool
    if type_name == "array":
        return lambda v: type(v) is list
    if type_name == "object":
        return lambda v: type(v) is dict
    return lambda v: True


# The keywords compile_schema reads; a property schema with none of these but ``type: string`` only checks
# that the value is a string.
_CONSTRAINTS = frozenset(
    {
        "x-kubernetes-int-or-string",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "items",
        "properties",
        "additionalProperties",
        "required",
    }
)


def _plain_string(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "string" and not _CONSTRAINTS & schema.keys()


def compile_schema(schema: dict[str, Any]) -> Check:  # noqa: C901 - one branch per keyword, read top to bottom
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    type_name = "int-or-string" if int_or_string else str(schema.get("type", ""))
    type_ok = _type_test(type_name, int_or_string)
    want = "an integer or a string" if int_or_string else _TYPE_NAMES.get(type_name, type_name)
    extra: list[Check] = []

    enum = schema.get("enum")
    if enum is not None:
        allowed = list(enum)
        allowed_text = ", ".join(str(x) for x in allowed)

        def check_enum(v: Any, path: Path, out: list[Issue]) -> None:
            if v not in allowed:
                hint = closest(str(v), [str(a) for a in allowed])
                tail = f" (did you mean `{hint}`?)" if hint else ""
                out.append(
                    Issue(
                        "SCHEMA003",
                        path,
                        f"`{show_path(path)}` must be one of {allowed_text}, not {_show(v)}{tail}",
                    )
                )

        extra.append(check_enum)

    pattern = schema.get("pattern")
    if pattern is not None:
        regex = re.compile(pattern)

        def check_pattern(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) is str and regex.search(v) is None:
                out.append(
                    Issue(
                        "SCHEMA006",
                        path,
                        f"`{show_path(path)}` is {_show(v)}, which does not match the pattern `{pattern}`",
                    )
                )

        extra.append(check_pattern)

    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    # The API server decodes every JSON integer into a Go int64, and refuses one outside its field's `format`
    # (go-openapi's "must be of type int32"): an integer without a format is still bounded by int64.
    fmt_bounds = INT_FORMATS.get(str(schema.get("format") or "int64")) if type_name == "integer" else None
    if minimum is not None or maximum is not None or fmt_bounds is not None:

        def check_range(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) not in (int, float):
                return
            if fmt_bounds is not None and not fmt_bounds[1] <= v <= fmt_bounds[2]:
                name, low, high = fmt_bounds
                out.append(
                    Issue(
                        "SCHEMA004",
                        path,
                        f"`{show_path(path)}` is {_show(v)}, outside the {name} range of the field "
                        f"({low} to {high})",
                    )
                )
            elif minimum is not None and v < minimum:
                out.append(
                    Issue(
                        "SCHEMA004", path, f"`{show_path(path)}` must be at least {minimum}, not {_show(v)}"
                    )
                )
            elif maximum is not None and v > maximum:
                out.append(
                    Issue("SCHEMA004", path, f"`{show_path(path)}` must be at most {maximum}, not {_show(v)}")
                )

        extra.append(check_range)

    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if min_items is not None or max_items is not None:

        def check_items_count(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) is not list:
                return
            n = len(v)
            if min_items is not None and n < min_items:
                text = (
                    f"`{show_path(path)}` must not be empty (remove the field instead)"
                    if min_items == 1
                    else f"`{show_path(path)}` needs at least {min_items} entries, not {n}"
                )
                out.append(Issue("SCHEMA005", path, text))
            elif max_items is not None and n > max_items:
                out.append(
                    Issue(
                        "SCHEMA005", path, f"`{show_path(path)}` allows at most {max_items} entries, not {n}"
                    )
                )

        extra.append(check_items_count)

    if "items" in schema:
        item_check = compile_schema(schema["items"])
        map_keys = (
            schema.get("x-kubernetes-list-map-keys")
            if schema.get("x-kubernetes-list-type") == "map"
            else None
        )
        is_set = schema.get("x-kubernetes-list-type") == "set"

        def check_items(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) is not list:
                return
            for i, item in enumerate(v):
                item_check(item, path + (i,), out)
            if map_keys or is_set:
                _check_unique(v, path, map_keys, out)

        extra.append(check_items)

    props: dict[str, Check] | None = None
    if "properties" in schema:
        props = {name: compile_schema(sub) for name, sub in schema["properties"].items()}
    additional = schema.get("additionalProperties")
    additional_check = compile_schema(additional) if isinstance(additional, dict) else None
    closed = additional is False
    required = tuple(schema.get("required") or ())
    if props is not None or additional_check is not None or required:
        known = sorted(props or ())
        props_ = props or {}
        # most fields of a manifest are plain strings: those are taken here, without a call and a path each
        strings = frozenset(k for k, sub in (schema.get("properties") or {}).items() if _plain_string(sub))

        def check_object(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) is not dict:
                return
            for key, value in v.items():
                if type(value) is str and key in strings:
                    continue
                sub = props_.get(key)
                if sub is not None:
                    sub(value, path + (key,), out)
                elif additional_check is not None:
                    additional_check(value, path + (key,), out)
                elif closed:
                    out.append(_unknown(path, key, known))
            for name in required:
                if name not in v:
                    where = show_path(path)
                    out.append(
                        Issue(
                            "SCHEMA001",
                            path,
                            f"required field `{name}` is missing" + (f" in `{where}`" if path else ""),
                        )
                    )

        extra.append(check_object)

    if not type_name and not extra:
        return _accept
    checks = tuple(extra)

    def wrong(v: Any, path: Path, out: list[Issue]) -> None:
        out.append(Issue("SCHEMA002", path, f"`{show_path(path)}` must be {want}, not {_show(v)}"))

    # the common shapes without a call for the type test or a loop over one check: this runs for every
    # value of every manifest
    exact = {"object": dict, "array": list, "string": str}.get(type_name) if not int_or_string else None
    if exact is not None and len(checks) == 1:
        only = checks[0]

        def check_one(v: Any, path: Path, out: list[Issue]) -> None:
            if type(v) is not exact:
                wrong(v, path, out)
                return
            only(v, path, out)

        return check_one

    def check(v: Any, path: Path, out: list[Issue]) -> None:
        if not type_ok(v):
            wrong(v, path, out)
            return
        for c in checks:
            c(v, path, out)

    return check


def _accept(v: Any, path: Path, out: list[Issue]) -> None:
    return None


def _unknown(path: Path, key: str, known: list[str]) -> Issue:
    where = show_path(path)
    hint = closest(key, known)
    tail = f"; did you mean `{hint}`?" if hint else ""
    return Issue(
        "SCHEMA008",
        path + (key,),
        f"unknown field `{key}` in `{where}` (the API server would drop it silently){tail}",
        at_key=True,
    )


def _identity(value: Any) -> Any:
    """A value that is equal for two entries exactly when their JSON is (how the API server compares them):
    a string, integer, boolean or null stands for itself beside its type (``1``, ``1.0`` and ``true`` are
    different JSON); anything else is its JSON, keys sorted."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    return json.dumps(value, sort_keys=True)


def _check_unique(items: list[Any], path: Path, keys: list[str] | None, out: list[Issue]) -> None:
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        if keys:
            if type(item) is not dict:
                continue
            ident: Any = tuple(_identity(item.get(k)) for k in keys)
        else:
            ident = _identity(item)
        if ident not in seen:
            seen[ident] = i
            continue
        label = ", ".join(f"{k}={item.get(k)}" for k in keys) if keys else _show(item)
        out.append(
            Issue(
                "SCHEMA007",
                path + (i,),
                f"`{show_path(path + (i,))}` repeats {label} of entry {seen[ident]}; entries must be unique",
            )
        )


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The generated JSON Schema of a Kuscia kind, shipped inside the package."""
    import pkgutil  # lighter at start-up than importlib.resources; reads inside a zip or wheel too

    data = pkgutil.get_data("reconciler", f"schemas/{SCHEMA_FILES[kind]}")
    assert data is not None, "the reconciler package has a loader that reads its files"
    text = data.decode("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def checker(kind: str) -> Check:
    """The compiled checker for a whole manifest of ``kind`` (``status`` must be removed first)."""
    schema = dict(load_schema(kind))
    props = dict(schema.get("properties") or {})
    props.pop("status", None)  # the API server resets status; never judge it
    # apiVersion and kind are checked before dispatch, with a better message than a schema `const` gives
    props.pop("apiVersion", None)
    props.pop("kind", None)
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    schema["properties"] = props
    return compile_schema(schema)
