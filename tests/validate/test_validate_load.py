"""Loading untrusted files: every kind of bad input gets a clear finding for that file, never a traceback."""

from __future__ import annotations

import os
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
    assert got == [("broken.yaml", "IO001"), ("link.yaml", "IO002"), ("linkdir", "IO002")]
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
