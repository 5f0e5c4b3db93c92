"""Config templates as Kuscia renders them for a pod (runtime contract, "Config templates")."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_PORT = re.compile(r"\{\{\{\s*\.ALLOCATED_PORTS\.ports\[name=([^\]]+)\]\.port\s*\}\}\}")
_VAR = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def json_inner(value: str) -> str:
    """The value escaped as the inside of a JSON string (templates put it between double quotes)."""
    return json.dumps(value)[1:-1]


def render(template: str, values: Mapping[str, str], env: Mapping[str, str], ports: Mapping[str, int]) -> str:
    """``values`` holds the four Kuscia variables; any other ``{{.X}}`` is the container env value (or "")."""

    def port(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        return str(ports[name]) if name in ports else ""

    def var(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return json_inner(values[name])
        return env.get(name, "")

    return _VAR.sub(var, _PORT.sub(port, template))
