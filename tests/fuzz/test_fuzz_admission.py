"""Property: admission (every way into a backend) and validate are one check. On mutated real manifests, each
object gets the same rules from both, and what validate lets through a backend takes.

Quick profile in .ci/run; for a long run: ``KGITOPS_FUZZ=long pytest tests/fuzz/test_fuzz_admission.py``
(measured: 6,000 inputs, no difference)."""

from __future__ import annotations

from collections import Counter

from fuzz_inputs import manifests, structure_mutants
from hypothesis import given

from reconciler.model import KINDS
from reconciler.validate import validate_file
from reconciler.validate.admission import check_manifest, check_resource

CROSS_FILE = ("XF001", "XF002", "XF003")


@given(structure_mutants())
def test_admission_finds_the_rules_validate_finds(data: bytes) -> None:
    result = validate_file("jobs/mutant.yaml", data)
    for info in result.documents:
        if info.ref is None or info.kind not in KINDS:
            continue
        doc = info.document.data
        assert isinstance(doc, dict)
        mine = [f for f in result.findings if f.ref == info.ref and f.rule not in CROSS_FILE]
        by_validate = Counter(f.rule for f in mine)
        by_admission = Counter(p.rule for p in check_manifest(doc).problems)
        assert by_admission == by_validate, (doc, by_validate, by_admission)


@given(manifests)
def test_what_validate_accepts_a_backend_admits_and_what_it_holds_is_refused(data: bytes) -> None:
    result = validate_file("jobs/mutant.yaml", data)
    valid = result.valid_objects()
    for obj in valid:
        verdict = check_resource(obj)
        assert verdict.ok, (obj, verdict)
    held = result.held_refs()
    for info in result.documents:
        if info.ref in held and isinstance(info.document.data, dict):
            errors = [f for f in result.findings if f.ref == info.ref and f.is_error]
            if all(f.rule in CROSS_FILE for f in errors):
                continue  # needs the other objects: check_against's business
            assert not check_manifest(info.document.data).ok, info.document.data
