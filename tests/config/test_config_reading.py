"""What read-only commands say they read, for every backend; credentials in an endpoint never appear."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import Config
from reconciler.sdk import describe_backend


def test_local_state_that_exists_and_that_does_not(tmp_path: Path) -> None:
    cfg = Config()
    cfg.engine.state_dir = str(tmp_path / "state")
    cfg.file = "kgitops.yaml"
    [line, note] = describe_backend(cfg)
    assert line == f"reading: local engine state {tmp_path / 'state'} (config kgitops.yaml)"
    assert note.startswith(f"note: {tmp_path / 'state'} holds no engine state yet")
    assert not (tmp_path / "state").exists()


def test_kubernetes_and_kusciaapi_name_where_they_read() -> None:
    cfg = Config()
    cfg.backend.kind = "kubernetes"
    cfg.backend.kubernetes.context = "kuscia"
    [line] = describe_backend(cfg)
    assert line == (
        "reading: kubernetes backend (kubeconfig $KUBECONFIG or ~/.kube/config, context kuscia; "
        "no config file)"
    )
    cfg.backend.kubernetes.in_cluster = True
    [line] = describe_backend(cfg)
    assert line == "reading: kubernetes backend (the Pod's service account; no config file)"
    cfg.backend.kind = "kusciaapi"
    cfg.backend.kusciaapi.endpoint = "https://bot:s3cret@kuscia.example:8082"
    [line] = describe_backend(cfg)
    assert line == "reading: kusciaapi backend at https://***@kuscia.example:8082 (no config file)"


def test_the_backend_flags_alone_apply_as_overrides_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``configure_backend`` (the job and task commands) gives what ``configure`` with the same four
    ``Overrides`` gives: relative paths from the working directory, a None flag keeping the file's value."""
    from reconciler.sdk import Overrides, configure, configure_backend

    (tmp_path / "kgitops.yaml").write_text("backend:\n  kind: kubernetes\n  kubernetes:\n    context: file\n")
    monkeypatch.chdir(tmp_path)
    for flags in (
        {"backend": "local", "state_dir": "st", "context": None, "kubeconfig": "kube/config"},
        {"backend": None, "state_dir": None, "context": "other", "kubeconfig": None},
    ):
        assert configure_backend("kgitops.yaml", **flags) == configure("kgitops.yaml", Overrides(**flags))
    cfg = configure_backend("kgitops.yaml", state_dir="st", kubeconfig="kube/config")
    assert (cfg.backend.kind, cfg.backend.kubernetes.context) == ("kubernetes", "file")
    assert cfg.state_dir == tmp_path / "st"
    assert cfg.backend.kubernetes.kubeconfig == str(tmp_path / "kube" / "config")
