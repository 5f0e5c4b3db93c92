"""Checking and making commit signatures with the tools Git itself uses: ``ssh-keygen -Y`` and ``gpg``.

Verification never consults the user's own keyring or allowed-signers file: each domain's keys from the config
go into a private, temporary keyring, so "verified" means "signed by a key this domain's config lists".
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.approvals.commit_trust import SignatureCheck, SigStatus
from reconciler.config import DomainTrust

SSH_NAMESPACE = "git"  # what git uses for commit signatures
_PRINCIPAL = "approver"
_SSH_KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")
_TIMEOUT = 30


class SigningError(Exception):
    """Signing a commit failed; the message says which tool and why."""


def signature_format(signature: bytes) -> str:
    head = signature.lstrip()[:40]
    if head.startswith(b"-----BEGIN SSH SIGNATURE"):
        return "ssh"
    if head.startswith(b"-----BEGIN PGP SIGNATURE"):
        return "openpgp"
    if head.startswith(b"-----BEGIN SIGNED MESSAGE") or head.startswith(b"-----BEGIN CMS"):
        return "x509"
    return "unknown"


class Verifier:
    """Verifies signatures against the keys of one config; keeps per-domain keyrings until ``close``."""

    def __init__(self, domains: dict[str, DomainTrust], base_dir: str | Path = ".") -> None:
        self._domains = domains
        self._base = Path(base_dir)
        self._tmp: str | None = None
        self._gpg_homes: dict[str, str] = {}
        self._signers: dict[str, str] = {}

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._tmp:
            for home in self._gpg_homes.values():
                _kill_gpg_agent(home)
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _dir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="kgitops-sig-")
        return Path(self._tmp)

    def verify(self, domain: str, signature: bytes | None, payload: bytes) -> SignatureCheck:
        if not signature:
            return SignatureCheck(SigStatus.NONE)
        fmt = signature_format(signature)
        trust = self._domains.get(domain)
        if fmt == "ssh":
            return self._verify_ssh(domain, trust, signature, payload)
        if fmt == "openpgp":
            return self._verify_gpg(domain, trust, signature, payload)
        return SignatureCheck(SigStatus.UNSUPPORTED, fmt)

    # -- ssh ----------------------------------------------------------------------------------------
    def _verify_ssh(
        self, domain: str, trust: DomainTrust | None, signature: bytes, payload: bytes
    ) -> SignatureCheck:
        if shutil.which("ssh-keygen") is None:
            return SignatureCheck(SigStatus.UNAVAILABLE, "ssh", detail="ssh-keygen is not installed")
        if trust is None or not trust.ssh_keys:
            return SignatureCheck(
                SigStatus.UNTRUSTED, "ssh", detail=f"no SSH keys are configured for {domain}"
            )
        signers = self._signers.get(domain)
        if signers is None:
            try:
                lines = [_ssh_key_line(k, self._base) for k in trust.ssh_keys]
            except ValueError as exc:
                return SignatureCheck(SigStatus.UNTRUSTED, "ssh", detail=str(exc))
            path = self._dir() / f"{domain}.allowed_signers"
            path.write_text(
                "".join(f'{_PRINCIPAL} namespaces="{SSH_NAMESPACE}" {line}\n' for line in lines),
                encoding="utf-8",
            )
            signers = self._signers[domain] = str(path)
        sig_path = self._dir() / "commit.sig"
        sig_path.write_bytes(signature)
        proc = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                signers,
                "-I",
                _PRINCIPAL,
                "-n",
                SSH_NAMESPACE,
                "-s",
                str(sig_path),
            ],
            input=payload,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
        said = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
        if proc.returncode == 0:
            m = re.search(r"key (SHA256:\S+)", said)
            return SignatureCheck(SigStatus.GOOD, "ssh", key=m.group(1) if m else "")
        return SignatureCheck(SigStatus.UNTRUSTED, "ssh", detail=_last_line(said))

    # -- openpgp ------------------------------------------------------------------------------------
    def _verify_gpg(
        self, domain: str, trust: DomainTrust | None, signature: bytes, payload: bytes
    ) -> SignatureCheck:
        if shutil.which("gpg") is None:
            return SignatureCheck(SigStatus.UNAVAILABLE, "openpgp", detail="gpg is not installed")
        if trust is None or not trust.gpg_keys:
            return SignatureCheck(
                SigStatus.UNTRUSTED, "openpgp", detail=f"no OpenPGP keys are configured for {domain}"
            )
        home = self._gpg_homes.get(domain)
        if home is None:
            home_path = Path(tempfile.mkdtemp(prefix="gpg-", dir=self._dir()))
            for key in trust.gpg_keys:
                try:
                    material = _gpg_key_material(key, self._base)
                except ValueError as exc:
                    return SignatureCheck(SigStatus.UNTRUSTED, "openpgp", detail=str(exc))
                _gpg(str(home_path), ["--import"], material)
            home = self._gpg_homes[domain] = str(home_path)
        sig_path = self._dir() / "commit.asc"
        sig_path.write_bytes(signature)
        proc = _gpg(home, ["--status-fd", "1", "--verify", str(sig_path), "-"], payload)
        status = proc.stdout.decode("utf-8", "replace")
        m = re.search(r"^\[GNUPG:\] VALIDSIG (\S+)", status, re.MULTILINE)
        if proc.returncode == 0 and m:
            return SignatureCheck(SigStatus.GOOD, "openpgp", key=m.group(1))
        if "NO_PUBKEY" in status:
            detail = "signed by a key not listed for the domain"
        elif "BADSIG" in status:
            detail = "the signature does not match the commit"
        else:
            detail = _last_line(proc.stderr.decode("utf-8", "replace"))
        return SignatureCheck(SigStatus.UNTRUSTED, "openpgp", detail=detail)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _ssh_key_line(value: str, base: Path) -> str:
    value = value.strip()
    if value.startswith(_SSH_KEY_PREFIXES):
        return value
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read the SSH public key {path}: {exc.strerror}") from None
    if not text.startswith(_SSH_KEY_PREFIXES):
        raise ValueError(f"{path} is not an SSH public key (expected a line like `ssh-ed25519 AAAA...`)")
    return text.splitlines()[0]


def _gpg_key_material(value: str, base: Path) -> bytes:
    if value.lstrip().startswith("-----BEGIN PGP PUBLIC KEY BLOCK"):
        return value.encode()
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the OpenPGP public key {path}: {exc.strerror}") from None


def _gpg(home: str, args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--no-tty", "--quiet", *args],
        input=stdin,
        capture_output=True,
        timeout=_TIMEOUT,
        check=False,
    )


def _kill_gpg_agent(home: str) -> None:
    if shutil.which("gpgconf"):
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)


# -- signing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningSpec:
    """How ``kgitops approve --sign`` signs: git's ``gpg.format`` (ssh | openpgp) and ``user.signingkey``."""

    format: str  # ssh | openpgp
    key: str  # ssh: private key path (or its .pub with an agent); openpgp: key id, or "" for the default


def sign_payload(payload: bytes, spec: SigningSpec) -> bytes:
    if spec.format == "ssh":
        if shutil.which("ssh-keygen") is None:
            raise SigningError("cannot sign with SSH: ssh-keygen is not installed (install openssh-client)")
        if not spec.key:
            raise SigningError("SSH signing needs a key: pass --signing-key or set git's user.signingkey")
        with tempfile.TemporaryDirectory(prefix="kgitops-sign-") as tmp:
            data = Path(tmp) / "commit"
            data.write_bytes(payload)
            proc = subprocess.run(
                [
                    "ssh-keygen",
                    "-Y",
                    "sign",
                    "-n",
                    SSH_NAMESPACE,
                    "-f",
                    str(Path(spec.key).expanduser()),
                    str(data),
                ],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=_TIMEOUT,
                check=False,
            )
            sig = data.with_name("commit.sig")
            if proc.returncode != 0 or not sig.exists():
                said = _last_line(proc.stderr.decode("utf-8", "replace"))
                raise SigningError(f"ssh-keygen could not sign with {spec.key}: {said}")
            return sig.read_bytes()
    if spec.format == "openpgp":
        if shutil.which("gpg") is None:
            raise SigningError("cannot sign with OpenPGP: gpg is not installed")
        args = ["gpg", "--batch", "--no-tty", "--detach-sign", "--armor"]
        if spec.key:
            args += ["--local-user", spec.key]
        proc = subprocess.run(args, input=payload, capture_output=True, timeout=_TIMEOUT, check=False)
        if proc.returncode != 0:
            said = _last_line(proc.stderr.decode("utf-8", "replace"))
            raise SigningError(f"gpg could not sign{' with ' + spec.key if spec.key else ''}: {said}")
        return proc.stdout
    raise SigningError(f"unknown signing format {spec.format!r}; use ssh or openpgp")
