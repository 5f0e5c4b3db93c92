"""The ``kgitops`` command: flags -> one ``reconciler.sdk`` call -> printing, for every command.

Each command group lives in its own module and is imported only when used, so ``kgitops validate`` in CI
does not pay for Git, the engine or HTTP. Errors end in one handler (``reconciler.cli.handler``).
"""

from __future__ import annotations

import importlib

import click

from reconciler import __version__
from reconciler.cli.handler import INTERRUPTED, Group

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "validate": "reconciler.cli.validate:validate",
    "simulate": "reconciler.cli.simulate:simulate",
    "engine": "reconciler.cli.engine:engine",
    "diff": "reconciler.cli.gitops:diff",
    "sync": "reconciler.cli.gitops:sync",
    "watch": "reconciler.cli.gitops:watch",
    "status": "reconciler.cli.gitops:status",
    "job": "reconciler.cli.job:job",
    "task": "reconciler.cli.task:task",
    "graph": "reconciler.cli.graph:graph",
    "approve": "reconciler.cli.approvals:approve",
    "approvals": "reconciler.cli.approvals:approvals",
    "serve": "reconciler.cli.serve:serve",
}


def _load(name: str) -> click.Command:
    module_name, _, attr = COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(module_name), attr)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: click.Context) -> object:
        """Ctrl-C ends any command with 130 (128 + SIGINT), as shells report it, not click's "Aborted!" and 1.
        ``sync`` and ``watch`` say first what keeps running."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted (SIGINT)", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kgitops")
def main() -> None:
    """kgitops: keep SecretFlow Kuscia jobs in line with a Git repository."""
