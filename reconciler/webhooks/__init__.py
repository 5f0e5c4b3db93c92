"""Push webhooks: a forge tells ``kgitops watch`` about a push, and the watcher reconciles at once.

- ``signatures``: who sent it — GitHub, GitLab, Gitea/Forgejo or a generic HMAC sender — checked in constant
  time against the shared secret;
- ``events``: the push it describes (repository, branch, revision, delivery id), pure;
- ``receiver``: the HTTP endpoint (size limit, signature, dedupe, repository/branch filter) and the
  coalescing ``Trigger`` the watcher drains.
"""

from reconciler.webhooks.events import PushEvent, Target, WebhookEventError, decide, parse_push
from reconciler.webhooks.receiver import Receiver, ReceiverSettings, Trigger
from reconciler.webhooks.signatures import Forge, verify

__all__ = [
    "Forge",
    "PushEvent",
    "Receiver",
    "ReceiverSettings",
    "Target",
    "Trigger",
    "WebhookEventError",
    "decide",
    "parse_push",
    "verify",
]
