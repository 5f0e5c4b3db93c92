"""The names Kuscia's task controller gives a task's pods and services
(``pkg/controllers/kusciatask/handler/pending_handler.go`` ``generatePodName``,
``pkg/utils/resources/service.go`` ``GenerateServiceName``). KusciaAPI shows a service's endpoint as
``<service>.<domain>.svc``."""

from __future__ import annotations

import re

MAX_NAME = 63  # a DNS label
# Kuscia's ids of jobs (KusciaAPI CreateJob's ``job_id``), AppImages, domains and domain data:
# ``resources.ValidateK8sName`` (``pkg/utils/resources/common.go``) with ``common.K3sRegex``
# (``pkg/common/constants.go``): at most 63 characters of ``[a-z0-9.-]``, starting and ending with a letter
# or digit. A KusciaJob with a longer name cannot be made through KusciaAPI, nor be approved by one
# (``job_service.go`` checks every request's ``job_id``).
RESOURCE_ID_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


def pod_name(task: str, role: str, replica: int) -> str:
    """``<task>-<replica>``, or ``<task>-<role>-<replica>`` for a party with a role; replicas count from 0."""
    return f"{task}-{replica}" if not role else f"{task}-{role}-{replica}"


def service_name(prefix: str, port_name: str) -> str:
    """``<prefix>-<port name>`` (the prefix is the pod's name); ``svc-`` in front when it would start with a
    digit, and a hashed form when it would be longer than 63 characters."""
    prefix, port_name = prefix.strip("-"), port_name.strip("-")
    name = f"{prefix}-{port_name}"
    if name[:1].isdigit():
        name = "svc-" + name
    if len(name) > MAX_NAME:
        import hashlib  # here: `validate` reads RESOURCE_ID_RE and starts without hashlib

        digest = hashlib.sha256(prefix.encode()).hexdigest()[:16]
        keep = MAX_NAME - 16 - len(port_name) - 6
        name = f"svc-{prefix[:keep]}-{digest}-{port_name}"
    return name
