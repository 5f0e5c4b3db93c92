"""The example AppImage's command: run the component a task's config names, like ``secretflow.kuscia.entry``.

    python3 entry.py ./kuscia/task-config.conf

Dispatches on ``sf_node_eval_param.name`` (``psi``, ``train_test_split``). Pure standard library, so it
runs with the interpreter the engine runs on. Exit 0 on success; on a problem, one ``error:`` line on
stderr (the engine shows the last lines of stderr as the pod's failure message) and exit 1.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psi  # noqa: E402
import split  # noqa: E402
from progress import log  # noqa: E402
from taskconfig import TaskConfig, TaskError, load_task_config  # noqa: E402

COMPONENTS: dict[str, Callable[[TaskConfig], None]] = {
    "psi": psi.main,
    "train_test_split": split.main,
}


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminated)
    try:
        cfg = load_task_config(argv[0])
        run = COMPONENTS.get(cfg.component)
        if run is None:
            raise TaskError(
                f"sf_node_eval_param.name {cfg.component!r} is not a component of this app; "
                f"it has {', '.join(sorted(COMPONENTS))}"
            )
        party = f"{cfg.me.name} ({cfg.self_index + 1} of {len(cfg.parties)})"
        log(f"{cfg.component}: task {cfg.task_id}, party {party}")
        run(cfg)
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
