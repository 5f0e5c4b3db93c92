"""Messages say what is actually wrong: a path where an AppImage name belongs is called a path (not a
container image), a UTF-16 or UTF-32 file is named so (not "binary"), a YAML tag kgitops cannot read is named
with its position (not silently read as a list), and standard input over the limit is called standard input.
Through the real command, `kgitops validate`, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_validate import JOB


def validate(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", *map(str, args)],
        capture_output=True,
        input=stdin,
        timeout=60,
    )


def findings(path: Path) -> list[tuple[str, int, int, str]]:
    done = validate(path, "-o", "json")
    assert done.returncode in (0, 1), done.stderr
    return [(f["rule"], f["line"], f["column"], f["message"]) for f in json.loads(done.stdout)["findings"]]


def test_a_path_as_app_image_is_called_a_path_and_an_image_an_image(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB.replace("appImage: secretflow-image", "appImage: ../sleeper-image", 1))
    (found,) = [f for f in findings(path) if f[0] == "REF001"]
    assert "'../sleeper-image' is a file path, not an AppImage name" in found[3]
    assert "e.g. 'sleeper-image'" in found[3] and "container image" not in found[3]
    path.write_text(JOB.replace("appImage: secretflow-image", "appImage: secretflow/sf:1.0", 1))
    (found,) = [f for f in findings(path) if f[0] == "REF001"]
    assert "'secretflow/sf:1.0' is a container image, not an AppImage name" in found[3]


@pytest.mark.parametrize(
    ("codec", "named"),
    [
        ("utf-16", "UTF-16 (little-endian)"),
        ("utf-32", "UTF-32 (little-endian)"),
        ("utf-16-be", "UTF-16 (big-endian)"),
    ],
)
def test_a_utf16_or_utf32_file_is_named_so(tmp_path: Path, codec: str, named: str) -> None:
    path = tmp_path / "job.yaml"
    data = JOB.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # an editor's "Unicode (big-endian)" writes the mark
    path.write_bytes(data)
    assert findings(path) == [
        ("YAML002", 1, 1, f"the file is {named} text (it starts with a byte order mark); save it as UTF-8")
    ]


@pytest.mark.parametrize(
    ("tag", "shown", "column"),
    [
        ('!!python/object/apply:os.system ["touch /tmp/pwned"]', "!!python/object/apply:os.system", 17),
        ("!Ref secretflow-image", "!Ref", 17),  # where the value starts
        ("!!set {a, b}", "!!set", 0),  # a standard tag: read (then the schema speaks)
    ],
)
def test_an_unknown_yaml_tag_is_a_finding_naming_it(
    tmp_path: Path, tag: str, shown: str, column: int
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB.replace("appImage: secretflow-image", f"appImage: {tag}", 1))
    found = findings(path)
    tagged = [f for f in found if f[0] == "YAML009"]
    if not column:
        assert tagged == [] and found, found
        return
    line = JOB.splitlines().index("      appImage: secretflow-image") + 1
    assert tagged == [
        (
            "YAML009",
            line,
            column,
            f"the YAML tag {shown!r} is not a standard one (such as !!str or !!int): kgitops would not know "
            "what it means and Kubernetes ignores it; remove the tag",
        )
    ]


def test_standard_input_over_the_limit_is_called_standard_input() -> None:
    done = validate("-", "--max-file-size", "100", stdin=JOB.encode())
    assert done.returncode == 1
    assert (
        b"<stdin>: error IO003 standard input is more than 100 bytes, above the limit of 100 "
        b"(raise it with --max-file-size)"
    ) in done.stdout
    assert b"the file is" not in done.stdout
