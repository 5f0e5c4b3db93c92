"""Values that must name something at run time: AppImages, domains, containers, ports; and taskInputConfig.

The API server accepts all of these, but the task fails later (or never starts), far from the manifest's
author."""

from __future__ import annotations

import json
import re
from typing import Any

from reconciler.model.objects import APP_IMAGE
from reconciler.validate import names
from reconciler.validate.schema import Issue, Path


def _image_name(value: Any, path: Path, field: str) -> list[Issue]:
    if not isinstance(value, str) or not value:
        return []
    why = names.dns1123_subdomain(value)
    if why is None:
        return []
    if names.looks_like_image_reference(value):
        text = (
            f"{field} {value!r} is a container image, not an {APP_IMAGE} name: name the {APP_IMAGE} object "
            "whose "
            "spec.image holds that image"
        )
    elif names.looks_like_path(value):
        text = (
            f"{field} {value!r} is a file path, not an {APP_IMAGE} name: name the {APP_IMAGE} object itself "
            "(its "
            f"metadata.name, e.g. {value.rstrip('/').rsplit('/', 1)[-1]!r})"
        )
    else:
        text = f"{field} {value!r} cannot name an {APP_IMAGE}: an object name {why}"
    return [Issue("REF001", path, text)]


def _domain(value: Any, path: Path, field: str) -> list[Issue]:
    if not isinstance(value, str):
        return []
    why = names.dns1123_label(value)
    return [Issue("REF002", path, f"{field} {value!r} {why} (domain IDs are DNS-1123 labels)")] if why else []


# json.loads(text) is _SCAN(text, 0), then a check that only whitespace follows (JSONDecoder.decode)
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # json.decoder.WHITESPACE


def _parses(text: str) -> bool:
    """Whether json.loads(text) succeeds, without its wrapping (this runs for every task of every job)."""
    try:
        end = _SCAN(text, 0)[1]
    except (StopIteration, ValueError):
        return False
    return end == len(text) or _WHITESPACE.match(text, end).end() == len(text)  # type: ignore[union-attr]


def check_task_input_config(value: Any, path: Path) -> list[Issue]:
    if not isinstance(value, str):
        return []
    text = value.lstrip()
    if not text.startswith(("{", "[")) or _parses(text):
        return []
    try:  # json.loads says what is wrong, and where
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [
            Issue(
                "REF003",
                path,
                f"taskInputConfig starts like JSON but does not parse: {exc.msg} at line "
                f"{exc.lineno} column {exc.colno} of the string",
            )
        ]
    except ValueError as exc:  # valid JSON Python refuses to build, e.g. an integer of over 4,300 digits
        return [Issue("REF003", path, f"taskInputConfig holds JSON no reader can use: {exc}")]
    return []


def _parties(spec: dict[str, Any], base: Path, image_field: str | None) -> tuple[list[Issue], set[str]]:
    out: list[Issue] = []
    domains: set[str] = set()
    parties = spec.get("parties")
    if isinstance(parties, list):
        if not parties:
            out.append(
                Issue("REF006", base + ("parties",), "parties is empty: a task needs at least one party")
            )
        for j, party in enumerate(parties):
            if not isinstance(party, dict):
                continue
            ppath = base + ("parties", j)
            domain = party.get("domainID")
            if isinstance(domain, str):
                if not domain:
                    out.append(Issue("REF006", ppath + ("domainID",), "domainID is empty"))
                else:
                    domains.add(domain)
                    out += _domain(domain, ppath + ("domainID",), "domainID")
            if image_field:
                out += _image_name(party.get(image_field), ppath + (image_field,), image_field)
            template = party.get("template")
            if isinstance(template, dict):
                out += check_pod_spec(template.get("spec"), ppath + ("template", "spec"))
    return out, domains


def check_job_references(spec: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    initiator = spec.get("initiator")
    out += _domain(initiator, ("spec", "initiator"), "initiator")
    all_domains: set[str] = set()
    tasks = spec.get("tasks")
    for i, task in enumerate(tasks if isinstance(tasks, list) else []):
        if not isinstance(task, dict):
            continue
        base: Path = ("spec", "tasks", i)
        out += _image_name(task.get("appImage"), base + ("appImage",), "appImage")
        out += check_task_input_config(task.get("taskInputConfig"), base + ("taskInputConfig",))
        issues, domains = _parties(task, base, None)
        out += issues
        all_domains |= domains
    if isinstance(initiator, str) and initiator and all_domains and initiator not in all_domains:
        out.append(
            Issue(
                "KJ007",
                ("spec", "initiator"),
                f"initiator {initiator!r} is a party of no task (parties: {', '.join(sorted(all_domains))})",
            )
        )
    return out


def check_task_references(spec: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    initiator = spec.get("initiator")
    out += _domain(initiator, ("spec", "initiator"), "initiator")
    out += check_task_input_config(spec.get("taskInputConfig"), ("spec", "taskInputConfig"))
    issues, domains = _parties(spec, ("spec",), "appImageRef")
    out += issues
    if isinstance(initiator, str) and initiator and domains and initiator not in domains:
        out.append(
            Issue(
                "KJ007",
                ("spec", "initiator"),
                f"initiator {initiator!r} is not a party of this task "
                f"(parties: {', '.join(sorted(domains))})",
            )
        )
    return out


def check_appimage_references(spec: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    templates = spec.get("deployTemplates")
    for i, template in enumerate(templates if isinstance(templates, list) else []):
        if isinstance(template, dict):
            out += check_pod_spec(template.get("spec"), ("spec", "deployTemplates", i, "spec"))
    return out


def check_pod_spec(pod: Any, base: Path) -> list[Issue]:
    """Container names (DNS-1123 labels, unique) and port names (IANA service names, unique per pod)."""
    if not isinstance(pod, dict):
        return []
    out: list[Issue] = []
    containers = pod.get("containers")
    seen: dict[str, int] = {}
    ports_seen: dict[str, str] = {}
    for i, container in enumerate(containers if isinstance(containers, list) else []):
        if not isinstance(container, dict):
            continue
        cpath = base + ("containers", i)
        name = container.get("name")
        if isinstance(name, str):
            why = names.dns1123_label(name)
            if why:
                out.append(Issue("REF004", cpath + ("name",), f"container name {name!r} {why}"))
            elif name in seen:
                out.append(
                    Issue(
                        "REF004",
                        cpath + ("name",),
                        f"container name {name!r} is also used by containers[{seen[name]}]",
                    )
                )
            else:
                seen[name] = i
        ports = container.get("ports")
        for j, port in enumerate(ports if isinstance(ports, list) else []):
            if not isinstance(port, dict) or not isinstance(port.get("name"), str):
                continue
            pname = port["name"]
            ppath = cpath + ("ports", j, "name")
            why = names.iana_service_name(pname)
            if why:
                out.append(Issue("REF005", ppath, f"port name {pname!r} {why} (an IANA service name)"))
            elif pname in ports_seen:
                out.append(Issue("REF005", ppath, f"port name {pname!r} is also used by {ports_seen[pname]}"))
            else:
                ports_seen[pname] = f"container {name!r}"
    return out
