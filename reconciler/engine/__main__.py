"""The engine driver's entry point: ``python -m reconciler.engine --state-dir DIR [--until-idle] …``.

Started detached by ``ensure_driver`` when a command writes and no process drives the engine; its output
goes to ``<state>/engine.log``. It decides with the settings in force that the commands publish in the
store (``engine/trust_settings.py``); ``--trust`` and ``--auto-approve`` add to them while it runs.
Exit status: 0 when it ends (also when another process drives the engine and ``--until-idle`` is given), 1
when another process drives it, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.engine.driver import AlreadyDriven, DriverSettings, drive
from reconciler.engine.trust_settings import TrustSettings
from reconciler.model.objects import APP_IMAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler.engine", description=__doc__)
    parser.add_argument("--state-dir", required=True, help="the engine state directory")
    parser.add_argument("--until-idle", action="store_true", help="exit once no job can progress")
    parser.add_argument(
        "--trust", action="append", default=[], metavar="GLOB", help=f"also trust these {APP_IMAGE}s"
    )
    parser.add_argument(
        "--auto-approve", action="append", default=[], metavar="DOMAIN", help="also approve for this domain"
    )
    parser.add_argument("--workspace", default=None, help="KGITOPS_WORKSPACE for the processes (default .)")
    parser.add_argument("--kill-grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    settings = DriverSettings(
        state_dir=Path(args.state_dir),
        extra=TrustSettings.of(args.trust, args.auto_approve),
        workspace=Path(args.workspace) if args.workspace else Path.cwd(),
        kill_grace_seconds=args.kill_grace,
        until_idle=args.until_idle,
        timeout=args.timeout,
    )

    def started(pid: int) -> None:
        where = settings.state_dir.resolve()
        print(f"driving the engine in {where} (pid {pid})", file=sys.stderr, flush=True)

    try:
        drive(settings, on_start=started)
    except AlreadyDriven as exc:
        if settings.until_idle:
            print(f"engine already driven by pid {exc.pid}; nothing to do", file=sys.stderr)
            return 0
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
