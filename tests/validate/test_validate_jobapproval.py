"""JobApproval records (kgitops's own kind) are checked like Kuscia kinds but never become backend objects."""

from __future__ import annotations

from reconciler.validate import Options, validate_file

GOOD = b"""apiVersion: kgitops.io/v1alpha1
kind: JobApproval
metadata:
  name: job-a-bob
spec:
  job: job-a
  domain: bob
  decision: Approve
  jobSpecDigest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""


def test_valid_record_has_no_findings_and_is_not_an_object() -> None:
    result = validate_file("approvals/bob/job-a.yaml", GOOD, Options(reject_unknown_kinds=True))
    assert [f for f in result.findings if f.is_error] == []
    assert result.objects == []


def test_typo_and_bad_decision_are_errors_with_positions() -> None:
    bad = GOOD.replace(b"decision: Approve", b"decison: Approve\n  decision: Maybe")
    result = validate_file("approvals/bob/job-a.yaml", bad)
    by_rule = {f.rule: f for f in result.findings}
    assert by_rule["SCHEMA008"].line == 8 and "did you mean `decision`" in by_rule["SCHEMA008"].message
    assert by_rule["SCHEMA003"].line == 9


def test_wrong_api_version_is_reported() -> None:
    bad = GOOD.replace(b"kgitops.io/v1alpha1", b"kuscia.secretflow/v1alpha1")
    result = validate_file("approvals/bob/job-a.yaml", bad)
    assert any(f.rule == "KIND002" and "kgitops.io/v1alpha1" in f.message for f in result.findings)
