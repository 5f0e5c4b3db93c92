"""The receiver's settings from the config (``webhook.*``), with the secret read once at start."""

from __future__ import annotations

from reconciler.config import Config
from reconciler.credentials import CredentialError, SecretSource
from reconciler.webhooks.events import Target
from reconciler.webhooks.receiver import ReceiverSettings, parse_listen


def receiver_settings(cfg: Config) -> ReceiverSettings | None:
    """None when ``webhook.listen`` is empty. Raises CredentialError (no secret, or an unreadable one: a
    receiver without a secret would let anyone trigger reconciles) or ValueError (a bad HOST:PORT)."""
    w = cfg.webhook
    if not w.listen:
        return None
    parse_listen(w.listen)
    source = SecretSource("webhook.secret", w.secret, w.secret_env, w.secret_file)
    if not source.configured:
        raise CredentialError(
            "webhook.secret: a webhook receiver needs a shared secret; set webhook.secret_env or "
            "webhook.secret_file (or webhook.secret) to the secret configured on the forge"
        )
    target = Target(repository=w.repository or cfg.source.path, branch=w.branch or cfg.source.ref)
    return ReceiverSettings(w.listen, source.read(), target, w.max_body, w.generic_header)
