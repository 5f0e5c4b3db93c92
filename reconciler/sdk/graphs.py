"""Job DAGs for ``kgitops graph``: from a manifest file (coloured by live phases when the backend has the job)
or from a live job by name. Draw the result with ``reconciler.render.graph.render``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config import Config
from reconciler.errors import KgitopsError
from reconciler.model import DEFAULT_NAMESPACE, Resource
from reconciler.model.objects import KUSCIA_JOB
from reconciler.render.graph import Graph, graph_from_job, graph_from_spec
from reconciler.sdk.config import describe_backend
from reconciler.sdk.jobs import Client, ClientError, JobNotFound
from reconciler.sdk.manifests import ManifestError, read_job_file

__all__ = ["GraphResult", "job_graphs"]


@dataclass(frozen=True)
class GraphResult:
    """``graphs``: one per job, in file order; ``warnings``: why live phases could not be read."""

    graphs: list[Graph]
    warnings: list[str] = field(default_factory=list)


def _open(cfg: Config, namespace: str, live: bool | None, announce: Callable[[str], None]) -> Client | None:
    if live is False:
        return None
    if live is None and (cfg.backend.kind or "local") != "local":
        return None
    from reconciler.backends.local import state_exists

    if live is None and not state_exists(cfg.state_dir):
        return None
    for line in describe_backend(cfg):
        announce(line)
    try:
        return Client.from_config(cfg, namespace, readonly=True)
    except ClientError:
        if live:
            raise
        return None


def job_graphs(
    target: str | Path,
    cfg: Config,
    namespace: str = DEFAULT_NAMESPACE,
    live: bool | None = None,
    job: str | None = None,
    announce: Callable[[str], None] = lambda _line: None,
    max_file_size: int | None = None,
) -> GraphResult:
    """The DAG of every KusciaJob in the file ``target`` (only ``job`` when given), or of the live job named
    ``target``. ``live``: colour by the backend's phases (None: when a local engine state exists; other
    backends only with True); a backend is opened read-only and ``announce`` is told what is read.
    ``max_file_size`` (bytes, default 5 MiB): a larger file is refused. Raises ``ManifestError`` or
    ``ClientError`` (exit 1)."""
    path = Path(target)
    if path.exists() and not path.is_dir():  # a FIFO or device is refused as a file, not looked up as a job
        jobs = read_job_file(path, validate=False, max_file_size=max_file_size)
        if job:
            jobs = [j for j in jobs if j.name == job]
            if not jobs:
                raise ManifestError(f"{path} has no {KUSCIA_JOB} named `{job}`")
        client = _open(cfg, namespace, live, announce)
        warnings: list[str] = []
        try:
            graphs = [_graph_for(j, client, warnings) for j in jobs]
        finally:
            if client is not None:
                client.close()
        return GraphResult(graphs, warnings)
    if live is False:
        raise KgitopsError(
            f"`{target}` is not a file, and --no-live forbids looking up a job by name", exit_code=1
        )
    for line in describe_backend(cfg):
        announce(line)
    try:
        with Client.from_config(cfg, namespace, readonly=True) as client:
            info = client.show_job(str(target))
    except ClientError as exc:
        hint = "" if path.suffix not in (".yaml", ".yml") else f" (and there is no file {target})"
        raise ClientError(f"{exc}{hint}") from None
    return GraphResult([graph_from_job(info)])


def _graph_for(job: Resource, client: Client | None, warnings: list[str]) -> Graph:
    if client is not None:
        try:
            return graph_from_job(client.show_job(job.name))
        except JobNotFound:
            pass
        except ClientError as exc:
            warnings.append(f"live phases unavailable: {exc}")
    return graph_from_spec(job.name, job.spec)
