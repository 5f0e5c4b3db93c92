"""The help of ``kgitops job``'s commands that act (``reconciler.cli.job_actions``), apart from them:
``kgitops job --help`` lists them without importing them, and each command takes its help from here."""

from __future__ import annotations

# command name -> its help (tests/cli/test_cli_grammar.py checks these are the commands' own)
ACTIONS: dict[str, str] = {
    "approve": "Approve a job waiting for approval, for one party domain.",
    "cancel": "Cancel a job for good; it can not be restarted.",
    "create": "Validate a manifest file, then create the KusciaJobs in it.",
    "delete": "Delete a job and its tasks.",
    "logs": "Print the logs of a job's tasks (embedded engine).",
    "reject": "Reject a job waiting for approval, for one party domain.",
    "restart": "Restart a Failed or Suspended job; tasks that did not succeed run again.",
    "stop": "Stop a job: its running tasks stop and the job becomes Failed.",
    "suspend": "Suspend a Running job (restart resumes it).",
    "update": "Change a job's priority, labels or annotations; an empty value removes a label or annotation.",
}
