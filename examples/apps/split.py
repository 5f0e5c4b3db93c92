"""The ``train_test_split`` component: split each party's PSI output into a train and a test table.

No communication is needed to get the same rows at both parties: after PSI both hold the same ids, each
sorted by id, so a permutation drawn from ``random_state`` over row positions picks the same ids at both.
Sizes follow scikit-learn's rule: ``n_test = ceil(test_size * n)``, ``n_train = floor(train_size * n)``;
with ``shuffle`` the test rows are the first ``n_test`` of the permutation and the train rows the next
``n_train`` (in permutation order), without it the train rows come first in id order.
"""

from __future__ import annotations

import math
import random
import time

from progress import log
from storage import DomainData, Storage
from taskconfig import TaskConfig, TaskError


def _fraction(cfg: TaskConfig, name: str, default: float) -> float:
    value = cfg.attr(name, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < float(value) < 1.0:
        raise TaskError(f"train_test_split: attr `{name}` must be a number between 0 and 1, got {value!r}")
    return float(value)


def plan_split(
    n: int, train_size: float, test_size: float, random_state: int, shuffle: bool
) -> tuple[list[int], list[int]]:
    """Row positions of the train and test tables; a pure function, so both parties compute the same one."""
    if train_size + test_size > 1.0 + 1e-9:
        raise TaskError(
            f"train_test_split: train_size + test_size is {train_size + test_size:g}, more than 1"
        )
    n_test = math.ceil(test_size * n)
    n_train = math.floor(train_size * n)
    if n_train + n_test > n:  # rounding up the test share can overflow by one
        n_train = n - n_test
    if shuffle:
        order = list(range(n))
        random.Random(random_state).shuffle(order)
        return order[n_test : n_test + n_train], order[:n_test]
    return list(range(n_train)), list(range(n_train, n_train + n_test))


def run(cfg: TaskConfig, storage: Storage) -> None:
    started = time.monotonic()
    if len(cfg.input_ids) != 1:
        raise TaskError(f"train_test_split: sf_input_ids needs exactly one table, got {list(cfg.input_ids)}")
    if len(cfg.output_uris) != 2 or len(cfg.output_ids) != 2:
        raise TaskError("train_test_split: needs two sf_output_ids and two sf_output_uris (train, then test)")
    train_size = _fraction(cfg, "train_size", 0.75)
    test_size = _fraction(cfg, "test_size", 0.25)
    random_state = cfg.attr("random_state", 1024)
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise TaskError(f"train_test_split: attr `random_state` must be an integer, got {random_state!r}")
    shuffle = cfg.attr("shuffle", True)
    if not isinstance(shuffle, bool):
        raise TaskError(f"train_test_split: attr `shuffle` must be a boolean, got {shuffle!r}")

    scope = Storage.scope_of(cfg.output_uris[0])
    table = storage.lookup(cfg.input_ids[0], scope)
    if table is None:
        raise TaskError(
            f"train_test_split: input {cfg.input_ids[0]!r} is not registered in {cfg.me.name}'s storage "
            f"({storage.root}, looked in {scope or 'the root'} and above); did the PSI task run?"
        )
    header, rows = storage.read_table(table)
    if table.keys and all(k in header for k in table.keys):
        cols = [header.index(k) for k in table.keys]
        rows.sort(key=lambda r: [r[c] for c in cols])
    train_idx, test_idx = plan_split(len(rows), train_size, test_size, random_state, shuffle)
    if not rows:
        log(f"train_test_split: {table.id} has no rows; writing empty tables")
    written = []
    for data_id, uri, idx in zip(cfg.output_ids, cfg.output_uris, (train_idx, test_idx), strict=True):
        path = storage.write_table(uri, header, [rows[i] for i in idx])
        storage.register(
            DomainData(
                id=data_id, relative_uri=uri, columns=tuple(header), keys=table.keys, author=cfg.task_id
            )
        )
        written.append(f"{len(idx)} rows to {path}")
    log(
        f"train_test_split: {cfg.me.name}: {len(rows)} rows of {table.id} ({table.relative_uri}) split "
        f"{train_size:g}/{test_size:g} (random_state {random_state}, shuffle {shuffle}): "
        f"{'; '.join(written)} in {time.monotonic() - started:.2f}s"
    )


def main(cfg: TaskConfig) -> None:
    run(cfg, Storage.from_env())
