"""Each rule family on small manifests: what a user sees for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

from helpers_validate import APPIMAGE, JOB, TASK

from reconciler.model import ObjectRef
from reconciler.validate import (
    Options,
    Severity,
    apply_defaults,
    check_cross_file,
    validate_file,
    validate_paths,
)


def findings(text: str, options: Options | None = None) -> list[tuple[str, str, int, str]]:
    result = validate_file("m.yaml", text.encode(), options)
    return [(f.rule, f.severity.value, f.line, f.message) for f in result.findings]


def errors(text: str) -> list[str]:
    return [f"{rule}@{line}: {msg}" for rule, sev, line, msg in findings(text) if sev == "error"]


def test_valid_manifests_have_no_findings() -> None:
    assert findings(JOB) == [] and findings(APPIMAGE) == [] and findings(TASK) == []


def test_unknown_field_names_the_closest_known_field_and_lenient_downgrades() -> None:
    text = JOB.replace("dependencies:", "dependency:").replace(
        "domainID: bob\n    - alias", "domain_id: bob\n    - alias"
    )
    got = findings(text)
    unknown = [(sev, msg) for rule, sev, _, msg in got if rule == "SCHEMA008"]
    assert (
        "error",
        "unknown field `dependency` in `spec.tasks[1]` (the API server would drop it silently); "
        "did you mean `dependencies`?",
    ) in unknown
    assert any("`domain_id`" in m and "did you mean `domainID`?" in m for _, m in unknown)
    lenient = findings(JOB.replace("dependencies:", "dependency:"), Options(lenient=True))
    assert [(r, s) for r, s, _, _ in lenient] == [("SCHEMA008", "warning")]


def test_schema_types_enums_ranges_and_lists() -> None:
    text = (
        JOB.replace("scheduleMode: BestEffort", "scheduleMode: bestEffort")
        .replace("maxParallelism: 2", "maxParallelism: 500")
        .replace("dependencies: [psi]", "dependencies: []")
        .replace("      appImage: secretflow-image\n      taskInputConfig: '{}'", "      appImage: 7")
    )
    got = errors(text)
    assert (
        'SCHEMA003@8: `spec.scheduleMode` must be one of Strict, BestEffort, not "bestEffort" '
        "(did you mean `BestEffort`?)" in got
    )
    assert "SCHEMA004@9: `spec.maxParallelism` must be at most 128, not 500" in got
    assert "SCHEMA005@20: `spec.tasks[1].dependencies` must not be empty (remove the field instead)" in got
    assert "SCHEMA002@21: `spec.tasks[1].appImage` must be a string, not 7" in got
    assert "SCHEMA001@18: required field `taskInputConfig` is missing in `spec.tasks[1]`" in got
    no_tasks = errors(JOB.split("  tasks:")[0] + "  tasks: []\n")
    assert any(e.startswith("SCHEMA005@10") for e in no_tasks)


def test_int_or_string_quantities() -> None:
    text = JOB.replace(
        "        - domainID: bob\n    - alias: split",
        "        - domainID: bob\n          resources:\n            limits: {cpu: 2, memory: 2Gi}\n"
        "            requests: {cpu: 'two'}\n    - alias: split",
    )
    got = errors(text)
    assert len(got) == 1 and got[0].startswith("SCHEMA006@20") and "requests.cpu" in got[0]


def test_metadata_rules() -> None:
    text = JOB.replace(
        "name: psi-split\n",
        "name: <jobId>\n  labels: {'bad key!': x, ok: '<uid>'}\n"
        "  ownerReferences: [{kind: KusciaJob, name: x}]\n  clusterName: c\n",
    ).replace("namespace: cross-domain", "namespace: Cross_Domain")
    got = errors(text)
    rules = sorted(e.split("@")[0] for e in got)
    assert rules == ["META001", "META002", "META003", "META003", "META004", "SCHEMA008"]
    assert any("metadata.name '<jobId>'" in e for e in got)
    assert any("ownerReferences[0] lacks apiVersion, uid" in e for e in got)


def test_task_ids_aliases_and_graph() -> None:
    dup = JOB.replace("alias: split", "alias: psi").replace("      dependencies: [psi]\n", "")
    assert any(e.startswith("KJ001@18: alias 'psi' is also the alias of spec.tasks[0]") for e in errors(dup))
    bad_id = JOB.replace("taskID: psi-split-psi", "taskID: PSI_1")
    assert any(e.startswith("KJ002@12: taskID 'PSI_1'") for e in errors(bad_id))
    same_id = JOB.replace("taskID: psi-split-split", "taskID: psi-split-psi")
    assert any(e.startswith("KJ003@19") for e in errors(same_id))
    by_id = JOB.replace("dependencies: [psi]", "dependencies: [psi-split-psi]")
    assert errors(by_id) == [
        "KJ004@20: dependency 'psi-split-psi' is not an alias of this job; it is the taskID "
        "of the task with alias 'psi': dependencies name aliases"
    ]
    cycle = JOB.replace(
        "      taskID: psi-split-psi\n", "      taskID: psi-split-psi\n      dependencies: [split]\n"
    )
    assert "KJ005" in errors(cycle)[0] and "psi → split → psi" in errors(cycle)[0]
    tolerable = JOB.replace(
        "      taskID: psi-split-psi\n", "      taskID: psi-split-psi\n      tolerable: true\n"
    )
    assert [e.split(":")[0] for e in errors(tolerable)] == ["KJ006@21"]


def test_a_job_name_kuscia_refuses_as_a_job_id_is_an_error_that_says_the_limit() -> None:
    """KusciaAPI checks every ``job_id`` against ``^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`` (``K3sRegex``)."""
    at_limit = JOB.replace("name: psi-split\n", f"name: {'j' * 63}\n", 1)
    assert errors(at_limit) == []
    for name in ("j" * 64, "j" * 253, "a." * 120 + "z"):
        got = errors(JOB.replace("name: psi-split\n", f"name: {name}\n", 1))
        assert got == [
            f"KJ008@4: KusciaJob name {name[:20]!r}… is {len(name)} characters long: Kuscia's job ids have "
            "at most 63 (KusciaAPI checks `job_id` against ^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$, "
            "pkg/common/constants.go K3sRegex); choose a name of 63 characters or fewer"
        ], name
    assert [e.split(":")[0] for e in errors(JOB.replace("name: psi-split\n", f"name: {'J' * 64}\n", 1))] == [
        "META001@4"  # not an object name at all: META001 alone
    ]
    assert errors(APPIMAGE.replace("name: secretflow-image", f"name: {'i' * 253}")) == []  # jobs only


def test_references_and_warnings() -> None:
    text = (
        JOB.replace(
            "appImage: secretflow-image\n      taskInputConfig: '{}'",
            "appImage: secretflow/sf-dev-anolis8:latest\n      taskInputConfig: '{}'",
        )
        .replace("""'{"sf_input_ids": ["alice-table", "bob-table"]}'""", """'{"sf_input_ids": [alice]}'""")
        .replace("initiator: alice", "initiator: carol")
        .replace("- domainID: bob\n    - alias", "- domainID: Bob_1\n    - alias")
    )
    got = findings(text)
    by_rule = {r: (s, line, m) for r, s, line, m in got}
    assert by_rule["REF001"][0] == "error" and "is a container image" in by_rule["REF001"][2]
    assert by_rule["REF002"][:2] == ("error", 17)
    assert by_rule["REF003"][:2] == ("warning", 14)
    assert "at line 1 column 19 of the string" in by_rule["REF003"][2]
    assert by_rule["KJ007"][0] == "warning"


def test_pod_templates_containers_and_ports() -> None:
    text = APPIMAGE.replace("- name: spu", "- name: spu_port_number_long").replace(
        "          - name: secretflow\n", "          - name: Secret.Flow\n"
    )
    got = [e.split(":")[0] for e in errors(text)]
    assert got == ["REF004@14", "REF005@18"]
    task = TASK.replace(
        "      appImageRef: secretflow-image\n    - domainID: bob",
        "      appImageRef: secretflow-image\n      template:\n        spec:\n          containers:\n"
        "            - {name: main, workingDir: /w, ports: [{name: http, protocol: TCP}]}\n"
        "    - domainID: bob",
    )
    assert [e.split(":")[0] for e in errors(task)] == ["SCHEMA003@15"]


def test_cross_file_duplicates_task_ids_and_missing_appimages(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(JOB)
    (tmp_path / "b.yaml").write_text(JOB.replace("name: psi-split", "name: other"))
    (tmp_path / "c.yaml").write_text(JOB)
    report = validate_paths([str(tmp_path)])
    got = [(Path(f.path).name, f.line, f.rule) for f in report.findings]
    assert ("c.yaml", 4, "XF001") in got
    dup = next(f for f in report.findings if f.rule == "XF001")
    assert f"also at {tmp_path / 'a.yaml'}:4:9" in dup.message
    assert ("b.yaml", 12, "XF002") in got and ("b.yaml", 19, "XF002") in got
    assert {f.rule for f in report.findings if f.severity is Severity.WARNING} == {"XF003"}
    (tmp_path / "image.yaml").write_text(APPIMAGE)
    assert not any(f.rule == "XF003" for f in validate_paths([str(tmp_path)]).findings)


def test_public_api_for_the_gitops_sync() -> None:
    job = validate_file("jobs/a.yaml", JOB.encode())
    broken = validate_file(
        "jobs/b.yaml",
        JOB.replace("psi-split", "broken").replace("maxParallelism: 2", "maxParallelism: 0").encode(),
    )
    image = validate_file("images/i.yaml", APPIMAGE.encode())
    assert [o.ref for o in job.valid_objects()] == [ObjectRef("KusciaJob", "cross-domain", "psi-split")]
    assert job.objects[0].origin is not None and job.objects[0].origin.line == 1
    assert (
        broken.held_refs() == {ObjectRef("KusciaJob", "cross-domain", "broken")}
        and not broken.valid_objects()
    )
    assert broken.documents[0].locate(("spec", "maxParallelism")) == (9, 19)
    assert check_cross_file([job, broken, image]) == []
    effective = apply_defaults(
        validate_file(
            "j.yaml",
            JOB.replace("  scheduleMode: BestEffort\n", "").replace("  maxParallelism: 2\n", "").encode(),
        ).objects[0]
    )
    assert effective.spec["scheduleMode"] == "Strict" and effective.spec["maxParallelism"] == 1
    assert [t["tolerable"] for t in effective.spec["tasks"]] == [False, False]


def test_api_version_and_lenient_option() -> None:
    wrong = JOB.replace("kuscia.secretflow/v1alpha1", "kuscia.secretflow/v1")
    assert [e.split(":")[0] for e in errors(wrong)] == ["KIND002@1"]

    typo = JOB.replace("dependencies:", "dependency:").encode()
    assert [f.severity for f in validate_file("m.yaml", typo, Options(lenient=True)).findings] == [
        Severity.WARNING
    ]
    assert [f.severity for f in validate_file("m.yaml", typo).findings] == [Severity.ERROR]
