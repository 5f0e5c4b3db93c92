"""The JobApproval kind: the parser and the JSON Schema (schemas/jobapproval.json) agree on what is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from approvals_support import approval

from reconciler.approvals import ApprovalRecord, Decision, RecordProblem, parse_record, render_record
from reconciler.approvals.records import domain_of_path

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "jobapproval.json").read_text())
GOOD = yaml.safe_load(approval("job-psi", "bob", "Reject", "wrong inputs"))


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    *parents, last = path.split(".")
    cur = doc
    for p in parents:
        cur = cur[p]
    if value is None:
        del cur[last]
    else:
        cur[last] = value
    return doc


def test_approvals_good_record_round_trips() -> None:
    rec = parse_record(GOOD, "approvals/bob/job-psi.yaml", 1)
    assert isinstance(rec, ApprovalRecord) and rec.decision is Decision.REJECT and not rec.decision.accept
    jsonschema.validate(GOOD, SCHEMA)
    assert yaml.safe_load(render_record(rec)) == GOOD


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.decision", "approve", "spec.decision must be Approve or Reject"),
        ("spec.job", None, "spec.job must be the name of a KusciaJob"),
        ("spec.domain", "Bob", "spec.domain must be a domain ID"),
        ("spec.colour", "red", "unknown field spec.colour"),
        ("kind", "KusciaJob", "kind must be JobApproval"),
        ("apiVersion", "kgitops.io/v2", "apiVersion must be kgitops.io/v1alpha1"),
        ("spec.reason", "x" * 1025, "spec.reason is longer than 1024 characters"),
    ],
)
def test_approvals_bad_records_fail_both(path: str, value: Any, message: str) -> None:
    doc = _with(path, value)
    problem = parse_record(doc, "approvals/bob/x.yaml", 4)
    assert isinstance(problem, RecordProblem) and problem.message.startswith(message)
    assert problem.where == "approvals/bob/x.yaml:4"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_approvals_domain_folder() -> None:
    assert domain_of_path("approvals/bob/job.yaml", "approvals") == "bob"
    assert domain_of_path("approvals/job.yaml", "approvals") is None
    assert domain_of_path("elsewhere/bob/job.yaml", "approvals") is None
    assert domain_of_path("deploy/approvals/bob/x/job.yaml", "deploy/approvals") == "bob"


@pytest.mark.parametrize("kind", ["JobApprovl", "jobapproval", "JobAproval"])
def test_approvals_a_misspelt_record_kind_is_a_problem_never_skipped(kind: str) -> None:
    """Found by a hostile probe: a Reject with a misspelt kind vanished, and an earlier Approve counted."""
    from reconciler.approvals.records import parse_file
    from reconciler.validate import validate_file

    text = approval("job-psi", "bob", "Reject").replace("kind: JobApproval", f"kind: {kind}")
    (problem,) = parse_file(text, "approvals/bob/job-psi.yaml")
    assert isinstance(problem, RecordProblem) and "did you mean `JobApproval`" in problem.message
    findings = validate_file("approvals/bob/job-psi.yaml", text.encode()).findings
    assert [f.rule for f in findings] == ["KIND003"]
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
    assert parse_file(other, "approvals/bob/notes.yaml") == []
