"""The cache of checked config files (``reconciler.config_cache``): used only for the very same bytes,
ignored when damaged or made by another kgitops, never holding an inline secret, never an error."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from reconciler.config import ConfigError, load_config
from reconciler.config_cache import cache_path


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cache() -> Path:
    path = cache_path()
    assert path is not None
    return path


def _entries() -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = json.loads(_cache().read_text())["entries"]
    return entries


def test_a_checked_file_is_kept_for_its_user_only_and_read_back(tmp_path: Path, cache_home: Path) -> None:
    config = tmp_path / "kgitops.yaml"
    config.write_text("engine:\n  state_dir: state\n  trusted_appimages: [secretflow-*]\nprune:\n  max: 3\n")
    first = load_config(config)
    assert _cache() == cache_home / "kgitops" / "config.json"
    assert list(_entries()) == [str(config.absolute())]
    assert stat.S_IMODE(_cache().stat().st_mode) == 0o600
    again = load_config(config)
    assert again == first
    assert (again.engine.trusted_appimages, again.prune.max, again.state_dir) == (
        ["secretflow-*"],
        3,
        tmp_path / "state",
    )


def test_an_edit_of_the_same_size_is_seen(tmp_path: Path, cache_home: Path) -> None:
    config = tmp_path / "kgitops.yaml"
    config.write_text("status:\n  interval: 5\n")
    assert load_config(config).status.interval == 5.0
    mtime = config.stat().st_mtime_ns
    config.write_text("status:\n  interval: 7\n")
    os.utime(config, ns=(mtime, mtime))  # as `cp -p` or a restored checkout would leave it
    assert load_config(config).status.interval == 7.0


def test_the_cache_is_believed_only_for_the_same_bytes_and_the_same_kgitops(
    tmp_path: Path, cache_home: Path
) -> None:
    config = tmp_path / "kgitops.yaml"
    config.write_text("status:\n  interval: 5\n")
    load_config(config)
    raw = json.loads(_cache().read_text())
    raw["entries"][str(config.absolute())]["data"] = {"status": {"interval": 9}}
    _cache().write_text(json.dumps(raw))
    assert load_config(config).status.interval == 9.0  # the same bytes: the checked settings are used
    raw["entries"][str(config.absolute())]["data"] = {"status": {"no_such_setting": 9}}
    _cache().write_text(json.dumps(raw))
    assert load_config(config).status.interval == 5.0  # an entry no kgitops wrote: read the file
    raw["checker"][0] = "0.0.0-another-kgitops"
    _cache().write_text(json.dumps(raw))
    assert load_config(config).status.interval == 5.0  # another kgitops checked them: read the file


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[]", b'{"checker": 1, "entries": []}', b"\xff\xfe"])
def test_a_damaged_cache_is_ignored_and_replaced(tmp_path: Path, cache_home: Path, damage: bytes) -> None:
    config = tmp_path / "kgitops.yaml"
    config.write_text("status:\n  interval: 5\n")
    _cache().parent.mkdir(parents=True)
    _cache().write_bytes(damage)
    assert load_config(config).status.interval == 5.0
    assert list(_entries()) == [str(config.absolute())]


def test_a_relative_home_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache directory that is not absolute is not used: nothing is written under the working one."""
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "home")
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "kgitops.yaml"
    config.write_text("status:\n  interval: 5\n")
    assert load_config(config).status.interval == 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kgitops.yaml"]


def test_an_unwritable_cache_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-dir"))
    config = tmp_path / "kgitops.yaml"
    config.write_text("status:\n  interval: 5\n")
    assert load_config(config).status.interval == 5.0
    assert load_config(config).status.interval == 5.0


def test_inline_secrets_and_invalid_files_are_never_kept(tmp_path: Path, cache_home: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("forge:\n  kind: github\n  token: ghp_s3cret\n")
    assert load_config(secret).forge.token == "ghp_s3cret"
    assert not _cache().exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("status:\n  intreval: 5\n")
    for _ in range(2):  # reported the second time too: a problem is never cached
        with pytest.raises(ConfigError, match="unknown setting `status.intreval`"):
            load_config(bad)
    assert not _cache().exists()
    env = tmp_path / "env.yaml"
    env.write_text("forge:\n  kind: github\n  token_env: GITHUB_TOKEN\n")
    load_config(env)
    assert list(_entries()) == [str(env.absolute())] and "s3cret" not in _cache().read_text()
