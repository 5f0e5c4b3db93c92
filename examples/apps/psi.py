"""Two-party ECDH private set intersection (the ``psi`` component, ``protocol: ECDH_PSI_2PC``).

Each party reads only its own table from its own storage, hashes every id to a curve element and masks it
with a fresh secret scalar (``ecdh``). The exchange, over the link on the ``spu`` port the engine
allocated:

1. the listener sends its singly masked ids (sorted by value, so their order says nothing); the connector
   receives them and sends its own;
2. each masks the other's elements with its own secret (both at once, on their own cores);
3. the listener sends back the connector's elements, now doubly masked, in the order it got them; the
   connector sends back the listener's;
4. each compares its own doubly masked ids with the other's: equal values are common ids. Both confirm
   the size.

Nothing else crosses the link: no raw id, no hash of one, no error text. Each party writes its own rows of the
intersection, sorted by id, to its output URI and registers it (with its key columns) for the next task.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import ecdh
import link as linkmod
from progress import log
from storage import DomainData, Storage, ensure_example_table
from taskconfig import TaskConfig, TaskError

LINK_PORT = "spu"  # SecretFlow's PSI runs over the SPU link; the AppImage declares this port
PROTOCOLS = ("ECDH_PSI_2PC",)
KEY_ATTRS = ("input/receiver_input/key", "input/sender_input/key")  # by input position


def check_params(cfg: TaskConfig) -> None:
    """Everything that can be checked without data or peer, so a bad manifest fails both parties at once."""
    protocol = cfg.attr("protocol", "ECDH_PSI_2PC")
    if protocol not in PROTOCOLS:
        raise TaskError(
            f"psi: protocol {protocol!r} is not implemented by this example app; "
            f"use one of {', '.join(PROTOCOLS)}"
        )
    if len(cfg.parties) != 2:
        raise TaskError(f"psi: needs exactly 2 parties, the task has {len(cfg.parties)}")
    if len(cfg.input_ids) != 2:
        raise TaskError(f"psi: sf_input_ids needs 2 tables (receiver's, sender's), got {list(cfg.input_ids)}")
    if len(cfg.output_uris) != 1 or len(cfg.output_ids) != 1:
        raise TaskError("psi: needs exactly one sf_output_ids entry and one sf_output_uris entry")
    for path in KEY_ATTRS:
        keys = cfg.attr(path)
        if not isinstance(keys, list) or not keys:
            raise TaskError(f'psi: attr `{path}` must list the id column(s), e.g. {{"ss": ["id"]}}')
    if LINK_PORT not in cfg.ports:
        raise TaskError(
            f"psi: no `{LINK_PORT}` port was allocated to {cfg.me.name}; declare it in the AppImage"
        )


def _my_input(cfg: TaskConfig, storage: Storage) -> tuple[DomainData, int]:
    """Which of the task's input tables is this party's: the one its own DomainData registry knows."""
    scope = Storage.scope_of(cfg.output_uris[0])
    found = [
        (d, i) for i, table in enumerate(cfg.input_ids) if (d := storage.lookup(table, scope)) is not None
    ]
    if len(found) != 1:
        what = "none" if not found else "more than one"
        raise TaskError(
            f"psi: {what} of the input tables {list(cfg.input_ids)} is registered in {cfg.me.name}'s storage "
            f"({storage.root}); each party must hold exactly one of them: register it as "
            f"{storage.root}/.domaindata/<id>.json, or (examples only) put data/{cfg.me.name}.csv in the "
            "workspace to get it registered as <domain>-table"
        )
    return found[0]


@contextmanager
def _open_link(cfg: TaskConfig) -> Iterator[linkmod.Link]:
    me = cfg.me
    peer = cfg.parties[1 - cfg.self_index]
    wait = cfg.link.connect_seconds
    recv_timeout = cfg.link.recv_timeout_ms / 1000.0
    if cfg.self_index == 0:
        host = "127.0.0.1"
        own = me.services.get(LINK_PORT, ())
        if own:
            host = linkmod.split_endpoint(own[0])[0]
        log(f"psi: {me.name} listens on {host}:{cfg.ports[LINK_PORT]} for {peer.name} (up to {wait:g}s)")
        link = linkmod.accept(
            host,
            cfg.ports[LINK_PORT],
            task_id=cfg.task_id,
            me=me.name,
            peer=peer.name,
            wait_seconds=wait,
            recv_timeout=recv_timeout,
        )
    else:
        endpoints = peer.services.get(LINK_PORT, ())
        if not endpoints:
            raise TaskError(f"psi: task_cluster_def has no `{LINK_PORT}` endpoint for {peer.name}")
        log(f"psi: {me.name} connects to {peer.name} at {endpoints[0]} (up to {wait:g}s)")
        link = linkmod.connect(
            endpoints[0],
            task_id=cfg.task_id,
            me=me.name,
            peer=peer.name,
            wait_seconds=wait,
            retry_interval=min(0.1, cfg.link.connect_retry_interval_ms / 1000.0),
            recv_timeout=recv_timeout,
        )
    try:
        yield link
    finally:
        link.close()


def _elements(link: linkmod.Link, what: str, expected: int | None = None) -> list[int]:
    try:
        values = ecdh.decode(link.recv(linkmod.DATA))
    except ValueError as exc:
        raise TaskError(f"psi: {link.peer} sent malformed {what} ({exc})") from None
    if expected is not None and len(values) != expected:
        raise TaskError(f"psi: {link.peer} sent {len(values)} {what}, expected {expected}")
    return values


def _mask(secret: int, values: list[int], whose: str) -> list[int]:
    try:
        return ecdh.mask(secret, values)
    except ValueError:
        raise TaskError(f"psi: {whose} elements include a low-order point; refusing to continue") from None


def intersect(link: linkmod.Link, listener: bool, own_keys: list[bytes]) -> set[int]:
    """Run the exchange; returns the positions in ``own_keys`` of the ids the peer also holds."""
    secret = ecdh.new_secret()
    single = _mask(secret, [ecdh.hash_to_element(k) for k in own_keys], "own")
    order = sorted(range(len(single)), key=single.__getitem__)  # send sorted: position leaks nothing
    sent = [single[i] for i in order]
    log(f"psi: masked {len(sent)} own ids")
    if listener:  # step 1
        link.send(linkmod.DATA, ecdh.encode(sent))
        theirs = _elements(link, "masked ids")
    else:
        theirs = _elements(link, "masked ids")
        link.send(linkmod.DATA, ecdh.encode(sent))
    log(f"psi: received {len(theirs)} masked ids from {link.peer}")
    theirs_double = _mask(secret, theirs, f"{link.peer}'s")  # step 2
    if listener:  # step 3
        link.send(linkmod.DATA, ecdh.encode(theirs_double))
        own_double = _elements(link, "doubly masked ids", expected=len(sent))
    else:
        own_double = _elements(link, "doubly masked ids", expected=len(sent))
        link.send(linkmod.DATA, ecdh.encode(theirs_double))
    common = set(theirs_double)  # step 4
    hits = {order[j] for j, v in enumerate(own_double) if v in common}
    mine = len(hits).to_bytes(8, "big")
    if listener:
        link.send(linkmod.DATA, mine)
        other = link.recv(linkmod.DATA)
    else:
        other = link.recv(linkmod.DATA)
        link.send(linkmod.DATA, mine)
    if other != mine:
        count = int.from_bytes(other[:8], "big")
        raise TaskError(f"psi: {link.peer} found {count} common ids but this party found {len(hits)}")
    return hits


def run(cfg: TaskConfig, storage: Storage, workspace: str | None) -> None:
    check_params(cfg)
    me = cfg.me.name
    curve = cfg.attr("curve_type")
    if curve not in (None, "CURVE_25519"):
        log(f"psi: curve_type {curve} asked for; this example app implements CURVE_25519 and uses it")
    started = time.monotonic()
    with _open_link(cfg) as link:
        try:
            ensure_example_table(storage, me, workspace)
            table, position = _my_input(cfg, storage)
            keys = cfg.attr(KEY_ATTRS[position])
            header, rows = storage.read_table(table)
            missing = [k for k in keys if k not in header]
            if missing:
                raise TaskError(f"psi: table {table.id} has no column(s) {missing}; its columns are {header}")
            key_cols = [header.index(k) for k in keys]
            row_keys = [tuple(row[c] for c in key_cols) for row in rows]
            unique = sorted(set(row_keys))
            if len(unique) != len(row_keys) and cfg.attr("precheck_input", False):
                dups = len(row_keys) - len(unique)
                raise TaskError(
                    f"psi: precheck_input: table {table.id} has {dups} duplicate id(s) in {keys}; "
                    "remove them or set precheck_input to false"
                )
            log(f"psi: {me} read {len(rows)} rows of {table.id} ({table.relative_uri}), key {keys}")
            hits = intersect(link, cfg.self_index == 0, ["\x1f".join(k).encode() for k in unique])
        except TaskError:
            link.abort()
            raise
        traffic = f"{link.sent_bytes} bytes sent, {link.received_bytes} received"
        log(f"psi: exchange done with {link.peer} ({traffic})")
    common = {unique[i] for i in hits}
    out_rows = sorted(
        (r for r, k in zip(rows, row_keys, strict=True) if k in common),
        key=lambda r: [r[c] for c in key_cols],
    )
    uri = cfg.output_uris[0]
    path = storage.write_table(uri, header, out_rows)
    storage.register(
        DomainData(
            id=cfg.output_ids[0],
            relative_uri=uri,
            columns=tuple(header),
            keys=tuple(keys),
            author=cfg.task_id,
        )
    )
    log(
        f"psi: {me}: {len(common)} common ids, {len(out_rows)} rows written to {path} "
        f"as {cfg.output_ids[0]} in {time.monotonic() - started:.2f}s"
    )


def main(cfg: TaskConfig) -> None:
    run(cfg, Storage.from_env(), os.environ.get("KGITOPS_WORKSPACE"))
