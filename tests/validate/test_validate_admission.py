"""Integer formats, the cross-domain namespace warning, and admission running exactly validate's checks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.model import Resource
from reconciler.validate import validate_file
from reconciler.validate.admission import check_against, check_manifest, check_resource

ROOT = Path(__file__).resolve().parents[2]

JOB = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaJob
metadata:
  name: j
spec:
  initiator: alice
  tasks:
  - alias: a
    taskID: j-a
    appImage: app
    taskInputConfig: '{}'
    parties:
    - domainID: alice
      bandwidthLimits: [{destinationID: bob, limitKBps: 10}]
"""

APPIMAGE = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: AppImage
metadata:
  name: app
spec:
  image: {name: app, tag: '1'}
  deployTemplates:
  - name: main
    replicas: 1
    spec:
      containers:
      - name: main
        workingDir: /work
        command: [sh]
        ports: [{name: psi, port: 8080, protocol: HTTP, scope: Cluster}]
"""


def rules(text: str) -> list[tuple[str, str]]:
    return [(f.rule, f.severity.value) for f in validate_file("x.yaml", text.encode()).findings]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (APPIMAGE.replace("replicas: 1", "replicas: 99999999999"), "replicas"),  # int32
        (APPIMAGE.replace("replicas: 1", "replicas: -2147483649"), "replicas"),
        (APPIMAGE.replace("port: 8080", "port: 2147483648"), "port"),  # int32
        (JOB.replace("limitKBps: 10", "limitKBps: 9223372036854775808"), "limitKBps"),  # int64
        (JOB.replace("appImage: app", "appImage: app\n    priority: 99999999999999999999"), "priority"),
    ],
)
def test_integers_are_range_checked_to_their_format(text: str, field: str) -> None:
    (finding,) = [f for f in validate_file("x.yaml", text.encode()).findings if f.rule == "SCHEMA004"]
    assert field in finding.message and "range of the field" in finding.message
    assert finding.line > 0


def test_integers_at_the_format_limits_pass() -> None:
    assert rules(APPIMAGE.replace("replicas: 1", "replicas: 2147483647")) == []
    assert rules(JOB.replace("limitKBps: 10", "limitKBps: 9223372036854775807")) == []


def test_a_huge_integer_gets_a_finding_not_a_traceback() -> None:
    big = "9" * 5000  # beyond Python's int-to-str digit limit
    doc = yaml.safe_load(JOB)
    doc["spec"]["maxParallelism"] = int(big[:4000])
    verdict = check_manifest(doc)
    assert [p.rule for p in verdict.errors] == ["SCHEMA004"]
    assert "an integer of about" in verdict.errors[0].message


@pytest.mark.parametrize("kind", ["KusciaJob", "KusciaTask"])
def test_a_job_or_task_outside_cross_domain_is_warned(kind: str) -> None:
    text = JOB.replace("  name: j\n", "  name: j\n  namespace: team-a\n")
    if kind == "KusciaTask":
        text = (
            "apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaTask\n"
            "metadata: {name: t, namespace: team-a}\n"
            "spec: {initiator: alice, taskInputConfig: '{}',\n"
            "       parties: [{domainID: alice, appImageRef: app}]}\n"
        )
    (finding,) = validate_file("x.yaml", text.encode()).findings
    assert (finding.rule, finding.severity.value) == ("META005", "warning")
    assert "kuscia#276" in finding.message and "team-a" in finding.message
    assert (finding.line, finding.column) == ((5, 14) if kind == "KusciaJob" else (3, 32))
    assert rules(text.replace("team-a", "cross-domain")) == []


def test_admission_and_validate_find_the_same_rules_in_every_example() -> None:
    """The one set of checks: for every manifest of the repository and many broken variants of it, admission
    reports exactly the rules validate reports for that object."""
    seen = 0
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        result = validate_file(str(path), path.read_bytes())
        for info in result.documents:
            if info.ref is None:
                continue
            base = info.document.data
            for variant in _variants(base):
                again = validate_file("v.yaml", yaml.safe_dump(variant).encode())
                want = sorted(f.rule for f in again.findings if f.rule not in ("XF003",))
                got = sorted(p.rule for p in check_manifest(variant).problems)
                assert got == want, (path, variant)
                seen += 1
    assert seen > 20


def _variants(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = [copy.deepcopy(doc)]
    spec = doc.get("spec") or {}
    for key, value in [
        ("maxParallelism", 129),
        ("maxParallelism", 99999999999),
        ("scheduleMode", "Sloppy"),
        ("unknownField", 1),
    ]:
        v = copy.deepcopy(doc)
        v.setdefault("spec", {})[key] = value
        out.append(v)
    if isinstance(spec.get("tasks"), list) and spec["tasks"]:
        v = copy.deepcopy(doc)
        v["spec"]["tasks"][0]["dependencies"] = [v["spec"]["tasks"][-1].get("alias")]
        out.append(v)
    v = copy.deepcopy(doc)
    v["metadata"]["name"] = "../up"
    out.append(v)
    v = copy.deepcopy(doc)
    v["metadata"]["namespace"] = "elsewhere"
    out.append(v)
    return out


def test_admission_is_strict_about_kinds_and_shapes() -> None:
    misspelt = check_manifest({"kind": "KusicaJob", "metadata": {"name": "x"}})
    assert [p.rule for p in misspelt.errors] == ["KIND001"]
    assert [p.rule for p in check_manifest({"kind": "KusciaJob"}).errors][:1] == ["KIND002"]
    verdict = check_resource(Resource.from_manifest({**yaml.safe_load(JOB), "metadata": {"name": "../x"}}))
    assert [p.rule for p in verdict.errors] == ["META001"] and verdict.errors[0].field == "metadata.name"
    assert "metadata.name: error META001" in verdict.message()


def test_check_against_reports_a_task_id_another_object_claims() -> None:
    mine = Resource.from_manifest(yaml.safe_load(JOB))
    other = copy.deepcopy(mine)
    other.name = "other"
    verdict = check_against(mine, [other], where="the local backend")
    assert [p.rule for p in verdict.errors] == ["XF002"]
    assert "KusciaJob/cross-domain/other at the local backend" in verdict.errors[0].message
    assert check_against(mine, [mine]).ok  # itself: that is AlreadyExists, not a conflict
