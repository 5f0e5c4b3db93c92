"""The ``kgitops`` command: flags -> one ``reconciler.sdk`` call -> printing, for every command.

Each command group lives in its own module and is imported only when used, so ``kgitops validate`` in CI
does not pay for Git, the engine or HTTP. Errors end in one handler (``reconciler.cli.handler``).
"""

from __future__ import annotations

import importlib

import click

from reconciler import __version__
from reconciler.cli.exitcodes import INTERRUPTED
from reconciler.cli.handler import Group

# command name -> "module:attribute"; each module is imported only when its command runs
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

# command name -> the first sentence of its help, so `kgitops --help` imports no command module
# (tests/cli/test_cli_grammar.py checks that these are the commands' own first sentences)
SUMMARIES: dict[str, str] = {
    "approvals": "Approval records: list them with their verdicts, or make them from GitHub reviews.",
    "approve": "Approve (or --reject) JOB for a domain: commit a JobApproval on a new branch, "
    "ready for a PR.",
    "diff": "Show what sync would do: create, unchanged, changed, prune, held, unmanaged.",
    "engine": "The embedded engine (local backend): run its controllers, see its state.",
    "graph": "Draw the task DAG of a manifest FILE or of a live JOB.",
    "job": "Look at jobs and act on them (on any backend).",
    "serve": "Serve KusciaAPI (POST /api/v1/job/...) over HTTPS with mutual TLS and the Token header.",
    "simulate": "Run FILE's KusciaJob through the engine's real controller with a simulated runtime.",
    "status": "Managed objects with their sync state, live phase, revision and age.",
    "sync": "Apply the plan: create new objects, update AppImages, prune (when enabled), write status.",
    "task": "Look at KusciaTasks.",
    "validate": "Validate KusciaJob, KusciaTask and AppImage manifests.",
    "watch": "Reconcile continuously: on file changes (directory) or new commits (Git), on a resync timer, "
    "and write status back.",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``kgitops --help`` from ``SUMMARIES``, without importing any command."""
        names = sorted(COMMANDS)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for n in names:
            rows.append((n, click.Command(n, help=SUMMARIES[n]).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
