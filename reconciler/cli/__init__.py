"""The ``kgitops`` command. Each command group lives in its own module and is imported only when used,
so ``kgitops validate`` in CI does not pay for Git, the engine or HTTP."""

from __future__ import annotations

import importlib

import click

from reconciler import __version__

INTERRUPTED = 130  # reconciler.cli.exitcodes.INTERRUPTED (not imported here: it pulls in the reconciler)

# command name -> "module:attribute"; a module that is not there yet is simply not offered.
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
    "quickstart": "reconciler.cli.quickstart:quickstart",
}


def _load(name: str) -> click.Command | None:
    module_name, _, attr = COMMANDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    command = getattr(module, attr, None)
    return command if isinstance(command, click.Command) else None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return _load(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        """Ctrl-C ends any command with 130 (128 + SIGINT), as shells report it, not click's "Aborted!" and 1.
        ``sync`` and ``watch`` say first what keeps running (``reconciler.cli.exitcodes``)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted (SIGINT)", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kgitops")
def main() -> None:
    """kgitops: keep SecretFlow Kuscia jobs in line with a Git repository."""
