"""Loading untrusted files: every kind of bad input gets a clear finding for that file, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers_validate import APPIMAGE, JOB

from reconciler.cli.validate import validate as validate_cmd
from reconciler.load import MAX_DEPTH, iter_documents
from reconciler.validate import Options, validate_file, validate_paths


def rules(data: bytes, options: Options | None = None) -> list[str]:
    return [f.rule for f in validate_file("m.yaml", data, options).findings]


def test_positions_point_at_the_value_and_yaml_1_1_booleans() -> None:
    docs = list(iter_documents(b"a: y\nb: off\nc: 2020-01-01\nd: 0x1f\ne: ~\nf:\n  - x\n  - {g: 1}\n"))
    assert docs[0].data == {"a": True, "b": False, "c": "2020-01-01", "d": 31, "f": ["x", {"g": 1}]}
    assert docs[0].locate(("f", 1, "g")) == (8, 9)
    assert docs[0].locate(("f", 1, "g"), key=True) == (8, 6)


def test_null_fields_are_dropped_before_validation() -> None:
    data = JOB.replace("  maxParallelism: 2\n", "  maxParallelism: null\n  flowID:\n").encode()
    result = validate_file("job.yaml", data)
    assert result.findings == [] and "maxParallelism" not in result.objects[0].spec


def test_syntax_error_has_position_and_other_files_still_validated(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: KusciaJob\nspec: [\n")
    (tmp_path / "b.yaml").write_text(APPIMAGE)
    report = validate_paths([str(tmp_path)])
    assert [(f.rule, f.line) for f in report.findings] == [("YAML001", 3)]
    assert [str(ref) for ref, _ in report.objects] == ["AppImage/secretflow-image"]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    assert rules("\n".join(lines).encode()) == ["YAML005"]


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b"- " * 200_000 + b"x",
        b"a:\n" + b"".join(b" " * i + b"a:\n" for i in range(1, 150)),
    ],
    ids=["flow", "block-sequence", "block-mapping"],
)
def test_deep_nesting_is_refused_without_crashing(text: bytes) -> None:
    assert rules(text) == ["YAML006"]
    assert MAX_DEPTH == 100


def test_size_binary_encoding_empty_and_non_mapping() -> None:
    assert rules(JOB.encode(), Options(max_file_size=100)) == ["IO003"]
    assert rules(b"\x89PNG\r\n\x1a\n\x00\x00") == ["YAML002"]
    latin1 = validate_file("m.yaml", b"kind: KusciaJob\nname: caf\xe9\n").findings[0]
    assert (latin1.rule, latin1.line, latin1.column) == ("YAML002", 2, 10)
    assert rules(b"") == ["YAML003"]
    assert rules(b"# only a comment\n---\n") == ["YAML003"]
    assert rules(b"- a\n- b\n") == ["YAML004"]
    assert rules(b"just text\n") == ["YAML004"]
    assert rules(b"kind: KusciaJob\nkind: AppImage\n") == ["YAML008"]


def test_multi_document_files_and_other_kinds() -> None:
    data = (APPIMAGE + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + JOB).encode()
    result = validate_file("all.yaml", data)
    assert [(f.rule, f.severity.value) for f in result.findings] == [("KIND001", "note")]
    assert [o.kind for o in result.objects] == ["AppImage", "KusciaJob"]
    strict = validate_file("all.yaml", data, Options(reject_unknown_kinds=True))
    assert [(f.rule, f.severity.value) for f in strict.findings] == [("KIND001", "error")]


def test_symlink_leaving_the_root_and_unreadable_entries(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(JOB)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "job.yaml").write_text(JOB)
    os.symlink(outside / "secret.yaml", root / "link.yaml")
    os.symlink(outside, root / "linkdir")
    os.symlink(root / "job.yaml", root / "inside.yaml")
    os.symlink(root / "missing.yaml", root / "broken.yaml")
    (root / "dir.yaml").mkdir()
    report = validate_paths([str(root)])
    got = sorted((Path(f.path).name, f.rule) for f in report.findings if f.rule.startswith("IO"))
    assert got == [
        ("broken.yaml", "IO001"),
        ("dir.yaml", "IO001"),  # sync holds a directory named like a manifest file: so does validate
        ("inside.yaml", "IO001"),  # a link named like a manifest is never followed (a Git source cannot)
        ("link.yaml", "IO002"),
        ("linkdir", "IO002"),
    ]
    assert not any("secret" in f.message and "tasks" in f.message for f in report.findings)


def test_cli_missing_path_is_a_usage_error_and_stdin_works() -> None:
    runner = CliRunner()
    missing = runner.invoke(validate_cmd, ["no/such/dir"])
    assert missing.exit_code == 2 and "no/such/dir" in missing.output
    ok = runner.invoke(validate_cmd, ["-", "--no-color"], input=APPIMAGE)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("valid: 1 file, 1 object")
    bad = runner.invoke(validate_cmd, ["-"], input=JOB.replace("dependencies:", "dependency:"))
    assert bad.exit_code == 1
    assert "<stdin>:20:7: error SCHEMA008 unknown field `dependency`" in bad.output
    assert "did you mean `dependencies`?" in bad.output
    too_big = runner.invoke(validate_cmd, ["-", "--max-file-size", "1KiB"], input=JOB * 2)
    assert too_big.exit_code == 1 and "IO003" in too_big.output


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1:0:0", "1:0:0"),  # YAML 1.1 sexagesimal is not Kubernetes': a string
        ("190:20:30", "190:20:30"),
        ("0x1f", 31),
        ("0o17", 15),
        ("017", 15),  # Go's base 0: a leading zero is octal
        ("08", 8.0),  # not octal, but float-style: ParseFloat takes it
        ("1_000", 1000),
        ("+5", 5),
        ("-0b101", -5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("9223372036854775808", 9223372036854775808),  # ParseUint
        ("18446744073709551616", 1.8446744073709552e19),  # past uint64: a float
        ("1e400", "1e400"),  # ErrRange: go-yaml keeps the string
        ("1" * 5000, "1" * 5000),
        ("0x" + "f" * 5000, "0x" + "f" * 5000),
        ("-x", "-x"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_numbers_are_read_as_kubernetes_reads_them(text: str, value: object) -> None:
    doc = next(iter_documents(f"v: {text}\n".encode()))
    assert doc.data["v"] == value and type(doc.data["v"]) is type(value)


@pytest.mark.parametrize("text", [b" {a: 1\r\rb: 2\r\nc", b"a: 1\rb: {\r\rc: [", b"x: \xe2\x80\xa8 {a: "])
def test_syntax_errors_after_other_line_breaks_are_findings(text: bytes) -> None:
    """libyaml's line breaks are CR, LF, CRLF, NEL, LS and PS: positions past them never break the scan."""
    assert rules(text) == ["YAML001"]


def test_huge_integers_are_findings_not_tracebacks_and_never_stop_other_files(tmp_path: Path) -> None:
    big = "1:" + "0:" * 3000 + "0"
    (tmp_path / "a.yaml").write_text(JOB.replace("maxParallelism: 2", f"maxParallelism: {big}"))
    (tmp_path / "b.yaml").write_text(JOB.replace("maxParallelism: 2", "maxParallelism: 0x" + "f" * 5000))
    (tmp_path / "c.yaml").write_text(APPIMAGE)
    result = CliRunner().invoke(validate_cmd, [str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "a.yaml" in result.output and "b.yaml" in result.output and "maxParallelism" in result.output
    report = validate_paths([str(tmp_path)])
    assert "AppImage/secretflow-image" in [str(ref) for ref, _ in report.objects]


def test_merge_keys_override_and_real_duplicates_are_still_refused() -> None:
    text = b"base: &base {a: 1, b: 2}\nx:\n  <<: *base\n  b: 3\n"
    text += b"z:\n  c: 0\n  <<: [*base, {a: 9, d: 4}]\n  a: 5\n"
    data = next(iter_documents(text)).data
    assert data["x"] == {"a": 1, "b": 3}
    assert data["z"] == {"c": 0, "a": 5, "b": 2, "d": 4}
    assert rules(b"kind: KusciaJob\nspec:\n  <<: {a: 1}\n  a: 2\n  a: 3\n") == ["YAML008"]


def test_a_huge_flow_list_is_refused_within_a_memory_bound(tmp_path: Path) -> None:
    """4.9 MB of ``[1, 1, ...]``: refused as too many values, in a process that stays small."""
    path = tmp_path / "flow.yaml"
    path.write_bytes(b"[" + b"1, " * 1_600_000 + b"1]\n")
    script = (
        "import resource, sys\n"
        "from reconciler.validate import validate_file\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rules = [f.rule for f in validate_file('flow.yaml', data).findings]\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(rules, grown // 1024)\n"
    )
    argv = [sys.executable, "-c", script, str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    found, grown_mib = out.stdout.rsplit(" ", 1)
    assert found == "['YAML007']"
    assert int(grown_mib) < 64, f"loading grew the process by {grown_mib} MiB"


@pytest.mark.parametrize(
    ("text", "position"),
    [
        (b"[" * 2000 + b"]" * 2000, (1, 101)),
        (b"a: " + b"{b: " * 1500 + b"1" + b"}" * 1500 + b"\n", (1, 400)),  # the mapping is level 1
        (b"s: '[[[['\nt: " + b"[" * 1200 + b"]" * 1200 + b"\n", (2, 103)),
        (b"a: 1\rb: " + b"[" * 1200, (2, 103)),  # libyaml counts a lone CR as a line break (found by fuzzing)
        (b"# c\r\n" + b"[" * 1100 + b"\r\n", (2, 101)),
    ],
    ids=["flow-sequence", "flow-mapping-in-block", "flow-after-quoted-brackets", "cr-breaks", "crlf-breaks"],
)
def test_nesting_limit_is_ours_whatever_libyaml_release(text: bytes, position: tuple[int, int]) -> None:
    """Newer libyaml refuses nesting past 1,000 levels itself, as a syntax error; we refuse at 100, first."""
    findings = validate_file("m.yaml", text).findings
    assert [(f.rule, f.line, f.column) for f in findings] == [("YAML006", *position)]


def test_a_huge_integer_inside_task_input_config_is_a_finding() -> None:
    """Found by the long fuzz run: valid JSON whose integer Python refuses to build (over 4,300 digits)."""
    big = "9" * 5000
    data = JOB.replace("taskInputConfig: '{}'", f"taskInputConfig: '{{\"a\": {big}}}'").encode()
    assert big.encode() in data
    assert rules(data) == ["REF003"]
