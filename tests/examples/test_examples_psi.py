"""The example PSI app run as the engine runs it: two processes, real ports, the AppImage's own command."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples_runtime import EXAMPLES, Runtime, edit_config, read_csv, task_input_config

LINEAR_PSI = task_input_config("job-best-effort-linear", "job-psi")


def fast_link(config: str, retry_times: int = 20, interval_ms: int = 100) -> str:
    """The config with a short link deadline (the seed's is 60 x 1 s), for tests where a peer never comes."""
    doc = json.loads(config)
    for dev in doc["sf_cluster_desc"]["devices"]:
        if dev["type"] == "spu":
            conf = json.loads(dev["config"])
            conf["link_desc"].update(connect_retry_times=retry_times, connect_retry_interval_ms=interval_ms)
            dev["config"] = json.dumps(conf)
    return json.dumps(doc)


def storage_ids(runtime: Runtime, domain: str, uri: str) -> list[str]:
    _, rows = read_csv(runtime.storage(domain) / uri)
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Runtime, dict[str, int | None], float]:
    """The seed job's PSI on the full example tables, run once for the tests that inspect its outputs."""
    runtime = Runtime(tmp_path_factory.mktemp("psi") / "state")
    started = time.monotonic()
    runs = runtime.run("job-best-effort-linear-psi", LINEAR_PSI, timeout=120)
    elapsed = time.monotonic() - started
    for r in runs.values():
        assert r.returncode == 0, r.log
    return runtime, {d: r.returncode for d, r in runs.items()}, elapsed


def test_psi_outputs_exactly_the_common_ids_at_both_parties(
    example_run: tuple[Runtime, dict[str, int | None], float], example_ids: dict[str, set[str]]
) -> None:
    runtime, _, _ = example_run
    uri = "job-best-effort-linear/psi-output.csv"
    alice = storage_ids(runtime, "alice", uri)
    bob = storage_ids(runtime, "bob", uri)
    assert set(alice) == example_ids["common"]
    assert alice == bob == sorted(example_ids["common"])


def test_psi_outputs_hold_each_partys_own_rows_only(
    example_run: tuple[Runtime, dict[str, int | None], float],
) -> None:
    runtime, _, _ = example_run
    for domain, key in (("alice", "id1"), ("bob", "id2")):
        header, rows = read_csv(runtime.storage(domain) / "job-best-effort-linear" / "psi-output.csv")
        src_header, src_rows = read_csv(EXAMPLES / "data" / f"{domain}.csv")
        assert header == src_header and header[0] == key
        original = {r[0]: r for r in src_rows}
        assert all(original[r[0]] == r for r in rows)
        record = json.loads(
            (
                runtime.storage(domain) / "job-best-effort-linear" / ".domaindata" / "psi-output.json"
            ).read_text()
        )
        assert record["keys"] == [key] and record["relative_uri"] == "job-best-effort-linear/psi-output.csv"


def test_input_tables_are_copied_into_each_partys_storage_only(
    example_run: tuple[Runtime, dict[str, int | None], float],
) -> None:
    runtime, _, _ = example_run
    assert (runtime.storage("alice") / "alice.csv").read_bytes() == (
        EXAMPLES / "data" / "alice.csv"
    ).read_bytes()
    assert (runtime.storage("bob") / "bob.csv").read_bytes() == (EXAMPLES / "data" / "bob.csv").read_bytes()
    assert not (runtime.storage("alice") / "bob.csv").exists()
    assert not (runtime.storage("bob") / "alice.csv").exists()


def test_psi_logs_say_what_happened(example_run: tuple[Runtime, dict[str, int | None], float]) -> None:
    runtime, _, _ = example_run
    log = (
        runtime.state_dir / "pods" / "job-best-effort-linear-psi" / "bob-0" / "logs" / "secretflow.log"
    ).read_text()
    assert "1500 common ids, 1500 rows written to" in log
    assert "connects to alice" in log


def test_the_party_that_listens_may_start_last(tmp_path: Path, small_workspace: Path) -> None:
    runtime = Runtime(tmp_path / "state", small_workspace)
    runs = runtime.run("t-late", fast_link(LINEAR_PSI, retry_times=100), order=("bob", "alice"))
    assert [r.returncode for r in runs.values()] == [0, 0], [r.log for r in runs.values()]
    uri = "job-best-effort-linear/psi-output.csv"
    assert storage_ids(runtime, "alice", uri) == storage_ids(runtime, "bob", uri)
    assert len(storage_ids(runtime, "bob", uri)) == 40


class RecordingProxy:
    """Forwards bob's connection to alice's real port and keeps every byte that passes, both ways."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.recorded: dict[str, bytearray] = {"bob->alice": bytearray(), "alice->bob": bytearray()}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _pipe(self, src: socket.socket, dst: socket.socket, key: str) -> None:
        try:
            while chunk := src.recv(65536):
                self.recorded[key] += chunk
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        client, _ = self.server.accept()
        deadline = time.monotonic() + 30
        while True:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    client.close()
                    return
                time.sleep(0.05)
        upstream.settimeout(None)
        back = threading.Thread(target=self._pipe, args=(upstream, client, "alice->bob"), daemon=True)
        back.start()
        self._pipe(client, upstream, "bob->alice")
        back.join(10)

    def close(self) -> None:
        self.server.close()
        self.thread.join(10)


def frames(stream: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 0
    while pos < len(stream):
        kind, length = struct.unpack(">cI", stream[pos : pos + 5])
        yield kind, stream[pos + 5 : pos + 5 + length]
        pos += 5 + length


def test_no_raw_id_crosses_the_link(tmp_path: Path, small_workspace: Path) -> None:
    runtime = Runtime(tmp_path / "state", small_workspace)
    parties = ("alice", "bob")
    ports = runtime.allocate(parties)
    proxy = RecordingProxy(ports["alice"]["spu"])  # bob is told alice's spu endpoint is the proxy
    override = {"alice": f"127.0.0.1:{proxy.port}"}
    runs = Runtime.wait(
        {d: runtime.launch("t-proxy", LINEAR_PSI, d, parties, ports, override) for d in parties}
    )
    proxy.close()
    assert [r.returncode for r in runs.values()] == [0, 0], [r.log for r in runs.values()]
    assert f"connects to alice at 127.0.0.1:{proxy.port}" in runs["bob"].log

    ids = [
        line.split(",")[0] for line in (small_workspace / "data" / "alice.csv").read_text().splitlines()[1:]
    ]
    ids += [
        line.split(",")[0] for line in (small_workspace / "data" / "bob.csv").read_text().splitlines()[1:]
    ]
    for direction, stream in proxy.recorded.items():
        assert stream, f"nothing recorded {direction}"
        for uid in ids:
            assert uid.encode() not in stream, f"raw id {uid} sent {direction}"
        sent = list(frames(bytes(stream)))
        assert [k for k, _ in sent] == [b"H", b"D", b"D", b"D"], [k for k, _ in sent]
        assert set(json.loads(sent[0][1])) == {"task_id", "party", "version"}
        assert [len(p) for _, p in sent[1:]] in ([32 * 60, 32 * 65, 8], [32 * 65, 32 * 60, 8])
    assert len(storage_ids(runtime, "alice", "job-best-effort-linear/psi-output.csv")) == 40


def test_unsupported_protocol_fails_both_parties_at_once(tmp_path: Path, small_workspace: Path) -> None:
    runtime = Runtime(tmp_path / "state", small_workspace)
    config = edit_config(LINEAR_PSI, attrs={"protocol": {"s": "KKRT_PSI_2PC"}})
    started = time.monotonic()
    runs = runtime.run("t-proto", config)
    assert time.monotonic() - started < 20
    for r in runs.values():
        assert r.returncode == 1
        assert (
            "protocol 'KKRT_PSI_2PC' is not implemented by this example app; use one of ECDH_PSI_2PC" in r.log
        )
        assert "Traceback" not in r.log


def test_a_party_without_its_table_stops_its_peer_too(tmp_path: Path, small_workspace: Path) -> None:
    (small_workspace / "data" / "bob.csv").unlink()
    runtime = Runtime(tmp_path / "state", small_workspace)
    runs = runtime.run("t-notable", LINEAR_PSI)
    assert runs["bob"].returncode == 1
    assert (
        "none of the input tables ['alice-table', 'bob-table'] is registered in bob's storage"
        in runs["bob"].log
    )
    assert runs["alice"].returncode == 1
    assert "bob stopped: bob failed before the exchange finished" in runs["alice"].log


def test_a_party_alone_gives_up_at_the_link_deadline(tmp_path: Path, small_workspace: Path) -> None:
    runtime = Runtime(tmp_path / "state", small_workspace)
    config = fast_link(LINEAR_PSI, retry_times=5, interval_ms=100)
    for alone in ("alice", "bob"):
        runs = runtime.run(f"t-alone-{alone}", config, order=(alone,))
        r = runs[alone]
        assert r.returncode == 1
        assert "within 0.5s" in r.log and "Traceback" not in r.log


def test_output_uri_outside_storage_is_refused(tmp_path: Path, small_workspace: Path) -> None:
    runtime = Runtime(tmp_path / "state", small_workspace)
    config = edit_config(LINEAR_PSI, sf_output_uris=["../../escape.csv"])
    runs = runtime.run("t-escape", config)
    for r in runs.values():
        assert r.returncode == 1
        assert "must be a relative path inside the party's storage directory" in r.log
    assert not list(tmp_path.rglob("escape.csv"))


def test_duplicate_ids_fail_the_precheck(tmp_path: Path, small_workspace: Path) -> None:
    with (small_workspace / "data" / "alice.csv").open("a") as f:
        f.write("common-000001,5\n")
    runtime = Runtime(tmp_path / "state", small_workspace)
    runs = runtime.run("t-dup", LINEAR_PSI)
    assert runs["alice"].returncode == 1 and "1 duplicate id(s) in ['id1']" in runs["alice"].log
    assert runs["bob"].returncode == 1 and "alice stopped" in runs["bob"].log
