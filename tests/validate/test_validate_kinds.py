"""A document whose objects would silently vanish is an error (issue 12, section A): an unknown kind in the
Kuscia API group (a typo), and an object without ``kind`` (``apiVersion``/``kind`` indented under
``metadata``). Other API groups' kinds, and documents that are not objects at all, stay notes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli.validate import validate
from reconciler.validate import validate_file


def findings(text: str) -> list[tuple[str, str, int, int]]:
    result = validate_file("m.yaml", text.encode())
    return [(f.rule, f.severity.value, f.line, f.column) for f in result.findings]


def test_an_unknown_kind_in_the_kuscia_group_is_an_error_with_a_suggestion() -> None:
    text = "apiVersion: kuscia.secretflow/v1alpha1\nkind: KusicaJob\nmetadata: {name: a}\n"
    assert findings(text) == [("KIND003", "error", 2, 7)]
    message = validate_file("m.yaml", text.encode()).findings[0].message
    assert "did you mean `KusciaJob`?" in message
    other_version = "apiVersion: kuscia.secretflow/v1beta1\nkind: Domain\nmetadata: {name: a}\n"
    assert findings(other_version)[0][:2] == ("KIND003", "error")


def test_an_object_without_kind_is_an_error() -> None:
    slipped = "metadata:\n  name: a\n  apiVersion: kuscia.secretflow/v1alpha1\n  kind: KusciaJob\nspec: {}\n"
    assert findings(slipped) == [("KIND004", "error", 1, 1)]
    assert "indent them as top-level keys" in validate_file("m.yaml", slipped.encode()).findings[0].message
    no_kind = "apiVersion: kuscia.secretflow/v1alpha1\nmetadata: {name: a}\n"
    assert findings(no_kind)[0][:2] == ("KIND004", "error")
    assert findings("kind: null\nmetadata: {name: a}\n")[0][:2] == ("KIND004", "error")


def test_other_groups_and_non_objects_stay_notes() -> None:
    assert findings("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n") == [("KIND001", "note", 2, 7)]
    assert findings("engine:\n  state_dir: .kgitops\n") == [("KIND001", "note", 1, 1)]  # a config file


def test_validate_exits_1_for_a_misspelt_kind(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("apiVersion: kuscia.secretflow/v1alpha1\nkind: KusicaJob\nmetadata: {name: a}\n")
    result = CliRunner().invoke(validate, [str(path)])
    assert result.exit_code == 1 and "error KIND003" in result.output
