"""The task config the engine renders from the AppImage's ``configTemplates`` (see the runtime contract).

The rendered ``task-config.conf`` is the JSON SecretFlow's Kuscia entry reads: ``task_id`` plus three values
that are themselves JSON documents carried as strings (``task_input_config``, ``task_cluster_def``,
``allocated_ports``). Everything in it comes from a manifest, so it is checked here and every problem
becomes a ``TaskError`` that names the field, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TaskError(Exception):
    """A problem the user can fix; the entry prints it as one line and exits non-zero."""


@dataclass(frozen=True)
class ClusterParty:
    """One party of the task cluster define: its name and, per port name, its endpoints (``host:port``)."""

    name: str
    role: str
    services: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class LinkSettings:
    """How long to keep trying to reach the peer (from the SPU device's ``link_desc``, like SecretFlow)."""

    connect_retry_times: int = 60
    connect_retry_interval_ms: int = 1000
    recv_timeout_ms: int = 120_000

    @property
    def connect_seconds(self) -> float:
        return self.connect_retry_times * self.connect_retry_interval_ms / 1000.0


@dataclass(frozen=True)
class TaskConfig:
    task_id: str
    component: str  # sf_node_eval_param.name: psi, train_test_split
    attrs: dict[str, Any]  # attr_paths[i] -> decoded attrs[i]
    input_ids: tuple[str, ...]
    output_ids: tuple[str, ...]
    output_uris: tuple[str, ...]
    datasource: dict[str, str]  # domain -> datasource id (sf_datasource_config)
    parties: tuple[ClusterParty, ...]
    self_index: int
    ports: dict[str, int]  # this party's allocated ports by name
    link: LinkSettings

    @property
    def me(self) -> ClusterParty:
        return self.parties[self.self_index]

    def attr(self, path: str, default: Any = None) -> Any:
        return self.attrs.get(path, default)


def _json_field(doc: dict[str, Any], key: str, where: str) -> Any:
    """A field that holds a JSON document as a string (as the template renders it), or the document itself."""
    if key not in doc:
        raise TaskError(f"{where}: `{key}` is missing (does the AppImage's configTemplate render it?)")
    value = doc[key]
    if isinstance(value, str):
        if not value.strip():
            raise TaskError(f"{where}: `{key}` is empty")
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise TaskError(
                f"{where}: `{key}` is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
    return value


def decode_attr(value: Any, path: str) -> Any:
    """One SecretFlow ``Attribute``: ``{"s": ..}``, ``{"ss": [..]}``, ``{"b": ..}``, ``{"i64": ..}``..."""
    if not isinstance(value, dict) or not value:
        raise TaskError(
            f'sf_node_eval_param: the value of attr `{path}` must be an object such as {{"s": ...}}'
        )
    if value.get("is_na"):
        return None
    for key in ("s", "b", "f", "i64", "ss", "bs", "fs", "i64s"):
        if key in value:
            raw = value[key]
            try:
                if key == "s":
                    return str(raw)
                if key == "b":
                    if not isinstance(raw, bool):
                        raise ValueError
                    return raw
                if key == "f":
                    return float(raw)
                if key == "i64":  # protobuf's JSON form writes int64 as a string
                    return int(raw)
                if not isinstance(raw, list):
                    raise ValueError
                if key == "ss":
                    return [str(x) for x in raw]
                if key == "bs":
                    return [bool(x) for x in raw]
                if key == "fs":
                    return [float(x) for x in raw]
                return [int(x) for x in raw]
            except (TypeError, ValueError):
                raise TaskError(
                    f"sf_node_eval_param: attr `{path}` has a bad `{key}` value {raw!r}"
                ) from None
    raise TaskError(f"sf_node_eval_param: attr `{path}` has none of the keys s, ss, b, i64, f")


def _str_list(cfg: dict[str, Any], key: str) -> tuple[str, ...]:
    value = cfg.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise TaskError(f"task_input_config: `{key}` must be a list of non-empty strings")
    return tuple(value)


def _parties(cluster: Any) -> tuple[tuple[ClusterParty, ...], int]:
    where = "task_cluster_def"
    if not isinstance(cluster, dict) or not isinstance(cluster.get("parties"), list):
        raise TaskError(f"{where}: expected an object with a `parties` list")
    parties = []
    for i, p in enumerate(cluster["parties"]):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise TaskError(f"{where}: parties[{i}] has no `name`")
        services: dict[str, tuple[str, ...]] = {}
        for s in p.get("services") or []:
            if isinstance(s, dict) and isinstance(s.get("portName"), str):
                services[s["portName"]] = tuple(str(e) for e in s.get("endpoints") or [])
        parties.append(ClusterParty(name=p["name"], role=str(p.get("role") or ""), services=services))
    idx = cluster.get("selfPartyIdx", 0)
    if not isinstance(idx, int) or not 0 <= idx < len(parties):
        raise TaskError(f"{where}: selfPartyIdx {idx!r} does not name one of the {len(parties)} parties")
    return tuple(parties), idx


def _ports(doc: Any) -> dict[str, int]:
    if not isinstance(doc, dict):
        raise TaskError("allocated_ports: expected an object with a `ports` list")
    ports: dict[str, int] = {}
    for p in doc.get("ports") or []:
        if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("port"), int):
            ports[p["name"]] = p["port"]
    return ports


def _link(cfg: dict[str, Any]) -> LinkSettings:
    """SecretFlow puts the link's retry policy in the SPU device config (a JSON string inside the JSON)."""
    desc = cfg.get("sf_cluster_desc")
    devices = desc.get("devices") if isinstance(desc, dict) else None
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict) or dev.get("type") != "spu":
            continue
        try:
            conf = json.loads(dev["config"]) if isinstance(dev.get("config"), str) else dev.get("config")
        except json.JSONDecodeError:
            raise TaskError("sf_cluster_desc: the spu device's `config` is not valid JSON") from None
        link = conf.get("link_desc") if isinstance(conf, dict) else None
        if isinstance(link, dict):
            defaults = LinkSettings()

            def num(key: str, default: int, link: dict[str, Any] = link) -> int:
                v = link.get(key, default)
                return v if isinstance(v, int) and v > 0 else default

            return LinkSettings(
                connect_retry_times=num("connect_retry_times", defaults.connect_retry_times),
                connect_retry_interval_ms=num(
                    "connect_retry_interval_ms", defaults.connect_retry_interval_ms
                ),
                recv_timeout_ms=num("recv_timeout_ms", defaults.recv_timeout_ms),
            )
    return LinkSettings()


def parse_task_config(doc: Any, where: str = "task config") -> TaskConfig:
    if not isinstance(doc, dict):
        raise TaskError(f"{where}: expected a JSON object")
    task_id = doc.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise TaskError(f"{where}: `task_id` is missing or empty")
    cfg = _json_field(doc, "task_input_config", where)
    if not isinstance(cfg, dict):
        raise TaskError(f"{where}: `task_input_config` must be a JSON object")
    node = cfg.get("sf_node_eval_param")
    if not isinstance(node, dict) or not isinstance(node.get("name"), str):
        raise TaskError("task_input_config: `sf_node_eval_param.name` is missing (which component to run?)")
    paths = node.get("attr_paths") or []
    values = node.get("attrs") or []
    if not isinstance(paths, list) or not isinstance(values, list) or len(paths) != len(values):
        raise TaskError("sf_node_eval_param: `attr_paths` and `attrs` must be lists of the same length")
    attrs = {str(p): decode_attr(v, str(p)) for p, v in zip(paths, values, strict=True)}
    datasource_cfg = cfg.get("sf_datasource_config") or {}
    datasource = (
        {str(k): str(v.get("id", "")) for k, v in datasource_cfg.items() if isinstance(v, dict)}
        if isinstance(datasource_cfg, dict)
        else {}
    )
    parties, self_index = _parties(_json_field(doc, "task_cluster_def", where))
    return TaskConfig(
        task_id=task_id,
        component=node["name"],
        attrs=attrs,
        input_ids=_str_list(cfg, "sf_input_ids"),
        output_ids=_str_list(cfg, "sf_output_ids"),
        output_uris=_str_list(cfg, "sf_output_uris"),
        datasource=datasource,
        parties=parties,
        self_index=self_index,
        ports=_ports(_json_field(doc, "allocated_ports", where)),
        link=_link(cfg),
    )


def load_task_config(path: str | Path) -> TaskConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"{p}: cannot read the task config ({exc.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskError(
            f"{p}:{exc.lineno}:{exc.colno}: the task config is not valid JSON ({exc.msg})"
        ) from None
    return parse_task_config(doc, str(p))
