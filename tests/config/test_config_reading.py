"""What read-only commands say they read, for every backend; credentials in an endpoint never appear."""

from __future__ import annotations

from pathlib import Path

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
