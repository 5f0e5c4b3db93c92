"""How kgitops authenticates to a Git remote, and how it knows the remote is the right one.

SSH (``ssh://user@host:port/path``, ``user@host:path``): a deploy key (``source.ssh_key``; its ``.pub``
beside it is used when present), offered as the user the URL names (``git`` when it names none), as libgit2
asks for it in the credentials callback. A key protected by a passphrase is used with the passphrase from
``source.ssh_key_passphrase_env`` / ``_file``; without one it is refused with a message saying so. The
server's host key must be listed in ``source.known_hosts`` (default ``~/.ssh/known_hosts``, OpenSSH's
format, sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): libgit2 checks it (libssh2's known-host check), and the
certificate_check callback refuses a host it could not match, where pygit2 alone would accept any host key.

HTTPS: a token or password (``source.https_password`` / ``_env`` / ``_file``, ``reconciler.credentials``) with
``source.https_username`` is answered to the server's 401 challenge, so it travels in the ``Authorization``
header (RFC 7617 Basic), never in the URL, a log line or a message.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pygit2

from reconciler.credentials import CredentialError, SecretSource
from reconciler.source.snapshot import SourceError

DEFAULT_SSH_USER = "git"
DEFAULT_HTTPS_USER = "git"
_HOSTKEY_ERROR = "invalid or unknown remote ssh hostkey"


class GitCredentials:
    """SSH key, host keys and HTTPS credentials of one remote (from the config); never logged.

    ``ssh_key``: path of the private key; ``passphrase``: where its passphrase lives (may be unconfigured);
    ``known_hosts``: the OpenSSH known_hosts file ("" = ``~/.ssh/known_hosts``); ``home``: a directory kgitops
    may write, where a known_hosts file given elsewhere is linked as ``.ssh/known_hosts`` for libgit2 (which
    reads it from its home directory); ``https_username`` / ``https_password``: HTTPS Basic credentials."""

    def __init__(
        self,
        ssh_key: str = "",
        username: str = DEFAULT_SSH_USER,
        *,
        passphrase: SecretSource | None = None,
        known_hosts: str = "",
        home: str | Path = "",
        https_username: str = "",
        https_password: SecretSource | None = None,
    ) -> None:
        self.ssh_key = ssh_key
        self.username = username
        self.passphrase = passphrase or SecretSource("source.ssh_key_passphrase")
        self.known_hosts = known_hosts
        self.home = Path(home) if home else None
        self.https_username = https_username
        self.https_password = https_password or SecretSource("source.https_password")
        self.refused_host = ""  # the host whose key was refused by the last operation, if any

    def callbacks(self) -> pygit2.RemoteCallbacks:
        """Callbacks for one clone, fetch, list or push; points libgit2 at the configured known_hosts file.
        Raises SourceError when the key or a secret cannot be used (naming the file or variable)."""
        key = self._ssh_keypair_paths()
        passphrase = ""
        if key is not None and _encrypted(key[1]):
            if not self.passphrase.configured:
                raise SourceError(
                    f"the SSH key {self.ssh_key} is protected by a passphrase: set "
                    "source.ssh_key_passphrase_env or source.ssh_key_passphrase_file to where the passphrase "
                    "is, or use a deploy key without one (ssh-keygen -p -N '' -f KEY)"
                )
            passphrase = self._secret(self.passphrase)
        password = self._secret(self.https_password) if self.https_password.configured else ""
        self._point_libgit2_home()
        self.refused_host = ""
        return _Callbacks(self, key, passphrase, password)

    def explain(self, message: str) -> str:
        """A libgit2 message made actionable: a refused host key names the known_hosts file and the fix."""
        if _HOSTKEY_ERROR in message.lower():
            where = self.known_hosts or "~/.ssh/known_hosts"
            host = self.refused_host or "the server"
            return (
                f"the SSH host key of {host} is unknown or has changed (checked against {where}); verify it "
                f"with the server's administrator, then add it (e.g. `ssh-keyscan -p PORT HOST >> {where}`) "
                "or set source.known_hosts to a file that lists it"
            )
        return message

    def _ssh_keypair_paths(self) -> tuple[str | None, str] | None:
        if not self.ssh_key:
            return None
        key = Path(self.ssh_key).expanduser()
        if not key.is_file():
            raise SourceError(f"the SSH key {self.ssh_key} does not exist (source.ssh_key, --ssh-key)")
        pub = key.with_name(key.name + ".pub")
        return (str(pub) if pub.exists() else None, str(key))

    @staticmethod
    def _secret(source: SecretSource) -> str:
        try:
            return source.read()
        except CredentialError as exc:
            raise SourceError(str(exc)) from None

    def _point_libgit2_home(self) -> None:
        """libgit2 reads ``<home>/.ssh/known_hosts``; its home is process-wide, so it is set before every
        operation: the real home directory, or one whose ``.ssh/known_hosts`` is the configured file."""
        if not self.known_hosts:
            pygit2.settings.homedir = os.path.expanduser("~")
            return
        wanted = Path(self.known_hosts).expanduser().resolve()
        if wanted.name == "known_hosts" and wanted.parent.name == ".ssh":
            pygit2.settings.homedir = str(wanted.parent.parent)
            return
        if self.home is None:
            raise SourceError("source.known_hosts: no directory to link it from (internal)")
        link = self.home / ".ssh" / "known_hosts"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not (link.is_symlink() and Path(os.readlink(link)) == wanted):
            link.unlink(missing_ok=True)
            link.symlink_to(wanted)
        pygit2.settings.homedir = str(self.home)

    def __repr__(self) -> str:
        return f"GitCredentials(ssh_key={self.ssh_key!r}, known_hosts={self.known_hosts!r})"


class _Callbacks(pygit2.RemoteCallbacks):
    """libgit2's credentials and certificate callbacks for one operation."""

    def __init__(
        self, owner: GitCredentials, key: tuple[str | None, str] | None, passphrase: str, password: str
    ) -> None:
        super().__init__()
        self._owner = owner
        self._key = key
        self._passphrase = passphrase
        self._password = password
        self._tries = 0

    def credentials(self, url: str, username_from_url: str | None, allowed_types: Any) -> Any:
        self._tries += 1
        if self._tries > 3:  # libgit2 asks again after a refusal: stop, so the refusal is reported
            raise pygit2.GitError(
                "the server refused the credentials: check that the deploy key (source.ssh_key) or the "
                "HTTPS token (source.https_password*) is granted access to the repository"
            )
        allowed = pygit2.enums.CredentialType(allowed_types)
        if allowed & pygit2.enums.CredentialType.USERNAME:
            return pygit2.Username(username_from_url or self._owner.username)
        if allowed & pygit2.enums.CredentialType.SSH_KEY and self._key is not None:
            pub, private = self._key
            return pygit2.Keypair(username_from_url or self._owner.username, pub, private, self._passphrase)
        if allowed & pygit2.enums.CredentialType.USERPASS_PLAINTEXT and self._password:
            user = self._owner.https_username or username_from_url or DEFAULT_HTTPS_USER
            return pygit2.UserPass(user, self._password)
        raise pygit2.GitError(
            "the server asks for credentials and none are configured: set source.ssh_key for an SSH URL, "
            "source.https_password_env or source.https_password_file for an HTTPS URL"
        )

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        """Accept only what libgit2 verified: a TLS certificate its CA store trusts, or an SSH host key
        listed in known_hosts (pygit2's default lets any SSH host key through)."""
        if not valid:
            self._owner.refused_host = (
                host.decode("utf-8", "replace") if isinstance(host, bytes) else str(host)
            )
        return bool(valid)


def _encrypted(private_key: str) -> bool:
    """Whether an OpenSSH or PEM private key file is protected by a passphrase (PROTOCOL.key: the cipher
    name after ``openssh-key-v1\\0``; RFC 1421: a ``Proc-Type: 4,ENCRYPTED`` header; PKCS#8 ``ENCRYPTED``)."""
    try:
        text = Path(private_key).read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    if "ENCRYPTED" in text:
        return True
    if "BEGIN OPENSSH PRIVATE KEY" not in text:
        return False
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    try:
        raw = base64.b64decode(body)
    except ValueError:
        return False
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return False
    size = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
    cipher = raw[len(magic) + 4 : len(magic) + 4 + size]
    return cipher != b"none"
