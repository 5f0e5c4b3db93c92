"""The flags that ``kgitops diff | sync | watch | status`` share, and what they mean as settings.

``source_options`` declares the source, status, prune and backend flags; ``run_settings`` turns them into the
Config (the config file with ``reconciler.sdk.Overrides`` on top: a flag left unset keeps the file's value,
``docs/config.md``) and the ``sdk.RunOptions`` of one run. ``grace_option`` is the
``--prune-grace-period`` of sync and watch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler import sdk
from reconciler.cli.common import DURATION, SIZE, backend_options, cli_config
from reconciler.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def grace_option(func: F) -> F:
    """``--prune-grace-period`` of sync and watch (``prune.grace_period``)."""
    return click.option(
        "--prune-grace-period",
        type=DURATION,
        default=None,
        metavar="DURATION",
        help="How long a pruned running job has, after kgitops stops it, to end before it is deleted anyway "
        "(600, 90s, 10m; 0: delete at once; default 60s).",
    )(func)


def source_options(func: F) -> F:
    """SOURCE and the flags of the source, its status write-back and pruning, then ``backend_options``."""
    options = [
        click.argument("source", required=False),
        click.option(
            "--git", "as_git", is_flag=True, help="Read SOURCE as a Git repository (committed tree)."
        ),
        click.option(
            "--ref", default=None, help="Branch, tag or commit of a Git source (default: its default branch)."
        ),
        click.option(
            "--path", "subpath", default=None, help="Sub-directory of the source holding the manifests."
        ),
        click.option(
            "--status-dir", default=None, type=click.Path(file_okay=False), help="Write status files here."
        ),
        click.option(
            "--status-branch", default=None, help="Branch for status commits (default: kgitops/status)."
        ),
        click.option("--no-status-commit", is_flag=True, help="Do not commit status to the status branch."),
        click.option("--no-push", is_flag=True, help="Keep the status branch of a URL source local."),
        click.option("--prune/--no-prune", default=None, help="Delete managed objects that left the source."),
        click.option(
            "--max-prune",
            type=click.IntRange(min=0),
            default=None,
            help="Refuse plans pruning more than this many objects (0: prune nothing; default: no limit).",
        ),
        click.option(
            "--recreate", multiple=True, metavar="NAME", help="Re-run this changed job (repeatable)."
        ),
        click.option(
            "--confirm-prune",
            multiple=True,
            metavar="NAME",
            help="Prune this object although its file is still in the source (repeatable).",
        ),
        click.option(
            "--recreate-drifted/--no-recreate-drifted",
            default=None,
            help="Re-create managed objects deleted or changed outside kgitops (default: only report).",
        ),
        click.option(
            "--ssh-key", default=None, type=click.Path(dir_okay=False), help="SSH key for a Git URL."
        ),
        click.option("--source-id", default=None, help="Name of the source in labels and the inventory."),
        click.option(
            "--max-file-size",
            type=SIZE,
            default=None,
            metavar="SIZE",
            help="Larger manifest files are held, not parsed (bytes, or e.g. 512KiB, 5MiB; default 5MiB).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return backend_options(func)


def run_settings(kwargs: dict[str, Any], **more: Any) -> tuple[Config, sdk.RunOptions]:
    """The flags of ``source_options`` (click's keyword arguments, ``kwargs``; the run's own are popped from
    it) and ``more`` fields of ``sdk.Overrides``, as the Config and the options of one run. Raises
    ``reconciler.config.ConfigError`` when the config file cannot be used."""
    options = sdk.RunOptions(
        tuple(kwargs.pop("recreate", ()) or ()),
        kwargs.pop("max_file_size", None),
        tuple(kwargs.pop("confirm_prune", ()) or ()),
    )
    overrides = sdk.Overrides(
        source=kwargs["source"],
        git=kwargs["as_git"],
        ref=kwargs["ref"],
        subpath=kwargs["subpath"],
        ssh_key=kwargs["ssh_key"],
        source_id=kwargs["source_id"],
        status_dir=kwargs["status_dir"],
        status_branch=kwargs["status_branch"],
        status_commit=False if kwargs["no_status_commit"] else None,
        status_push=False if kwargs["no_push"] else None,
        prune=kwargs["prune"],
        max_prune=kwargs["max_prune"],
        recreate_drifted=kwargs["recreate_drifted"],
        **more,
    )
    cfg = cli_config(
        kwargs["config_path"],
        kwargs["backend_kind"],
        kwargs["state_dir"],
        kwargs["context"],
        overrides,
        kwargs["kubeconfig"],
    )
    return cfg, options
