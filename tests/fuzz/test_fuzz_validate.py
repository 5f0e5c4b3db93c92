"""Property: no manifest, however broken, gives a traceback; every finding is a known rule with a position.

Quick profile in .ci/run; the long one (100,000+ inputs) is ``python bench/fuzz.py``."""

from __future__ import annotations

from fuzz_inputs import manifests
from hypothesis import given

from reconciler.validate import validate_file
from reconciler.validate.findings import RULES


@given(manifests)
def test_validate_never_raises_and_names_a_known_rule_with_a_position(data: bytes) -> None:
    result = validate_file("jobs/mutant.yaml", data)
    for finding in result.findings:
        assert finding.rule in RULES, finding
        assert finding.line >= 0 and finding.column >= 0
        assert finding.message
    for obj in result.valid_objects():  # what passes is an object a backend could take
        assert obj.kind in ("KusciaJob", "KusciaTask", "AppImage", "JobApproval") and obj.name
        assert "/" not in obj.name and ".." not in obj.name
