"""Signed approvals: SSH and OpenPGP signatures by throwaway keys, checked against the domain's keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from approvals_support import ALICE, BOB, MALLORY, Repo, approval, make_config

from reconciler.approvals import collect
from reconciler.approvals.signatures import SigningSpec
from reconciler.config import DomainTrust

RECORD = {"approvals/bob/job-psi.yaml": approval("job-psi", "bob")}


def _ssh_fingerprint(pub: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


def test_approvals_ssh_signed_commit_counts(repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]) -> None:
    bob = ssh_keys["bob"]
    head = repo.commit(RECORD, BOB, signing=SigningSpec("ssh", str(bob)))
    # the key given as a path relative to the config file, and signatures required
    (tmp_path / "bob.pub").write_text(Path(f"{bob}.pub").read_text())
    cfg = make_config(tmp_path, bob=DomainTrust(ssh_keys=["bob.pub"], require_signature=True))
    [d] = collect(str(repo.path), head, None, cfg)
    assert d.trusted, d.why_not
    assert d.signed_by == _ssh_fingerprint(Path(f"{bob}.pub"))


def test_approvals_signature_outweighs_the_email(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    # bob signs from a machine whose git e-mail is not listed: the key is what proves it is bob
    head = repo.commit(RECORD, ("Bob", "bob@home.example"), signing=SigningSpec("ssh", str(ssh_keys["bob"])))
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    cfg = make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]], ssh_keys=[key_line]))
    [d] = collect(str(repo.path), head, None, cfg)
    assert d.trusted, d.why_not


def test_approvals_unsigned_where_signature_required(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    head = repo.commit(RECORD, BOB)  # right e-mail, right folder, but no signature
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    cfg = make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]], ssh_keys=[key_line], require_signature=True))
    [d] = collect(str(repo.path), head, None, cfg)
    assert not d.trusted
    assert "is not signed, and domain bob requires signatures" in d.why_not


def test_approvals_signed_with_someone_elses_key(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    head = repo.commit(RECORD, BOB, signing=SigningSpec("ssh", str(ssh_keys["mallory"])))
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    cfg = make_config(tmp_path, bob=DomainTrust(ssh_keys=[key_line], require_signature=True))
    [d] = collect(str(repo.path), head, None, cfg)
    assert not d.trusted
    assert "its ssh signature is not by a key of domain bob" in d.why_not


def test_approvals_global_signature_requirement(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    head = repo.commit(RECORD, BOB)
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    cfg = make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]], ssh_keys=[key_line]))
    cfg.approvals.require_signatures = True
    [d] = collect(str(repo.path), head, None, cfg)
    assert not d.trusted and "requires signatures" in d.why_not
    cfg.approvals.domains["bob"].require_signature = False  # a domain may opt out
    [d] = collect(str(repo.path), head, None, cfg)
    assert d.trusted


@pytest.mark.skipif(shutil.which("git") is None, reason="the git command is not installed")
def test_approvals_commit_signed_by_git_itself(tmp_path: Path, ssh_keys: dict[str, Path]) -> None:
    """A commit made with ``git commit -S`` (gpg.format=ssh) verifies: the same format git writes."""
    work = tmp_path / "gitrepo"
    env_cfg = [
        "-c", "user.name=Bob", "-c", f"user.email={BOB[1]}", "-c", "gpg.format=ssh",
        "-c", f"user.signingkey={ssh_keys['bob']}", "-c", "commit.gpgsign=true",
    ]  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "approvals" / "bob").mkdir(parents=True)
    (work / "approvals/bob/job-psi.yaml").write_text(RECORD["approvals/bob/job-psi.yaml"])
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    subprocess.run(["git", "-C", str(work), *env_cfg, "commit", "-q", "-m", "approve"], check=True)
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    cfg = make_config(tmp_path, bob=DomainTrust(ssh_keys=[key_line], require_signature=True))
    [d] = collect(str(work), "HEAD", None, cfg)
    assert d.trusted, d.why_not


def test_approvals_gpg_signed_commit(repo: Repo, tmp_path: Path, gnupg_home: tuple[str, str]) -> None:
    home, fpr = gnupg_home
    head = repo.commit(RECORD, BOB, signing=SigningSpec("openpgp", fpr))
    exported = subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--armor", "--export", fpr], check=True, capture_output=True
    ).stdout
    (tmp_path / "bob.asc").write_bytes(exported)
    cfg = make_config(tmp_path, bob=DomainTrust(gpg_keys=["bob.asc"], require_signature=True))
    [d] = collect(str(repo.path), head, None, cfg)
    assert d.trusted, d.why_not
    assert d.signed_by == fpr
    # signed by bob's OpenPGP key, but carol's domain lists no such key
    other = repo.commit({"approvals/carol/job-psi.yaml": approval("job-psi", "carol")}, ALICE,
                        signing=SigningSpec("openpgp", fpr))  # fmt: skip
    cfg.approvals.domains["carol"] = DomainTrust(gpg_keys=[], ssh_keys=["carol.pub"], require_signature=True)
    decisions = {x.domain: x for x in collect(str(repo.path), other, None, cfg)}
    assert not decisions["carol"].trusted
    assert "openpgp signature is not by a key of domain carol" in decisions["carol"].why_not


def test_approvals_unreadable_gpg_key_is_reported(
    repo: Repo, tmp_path: Path, gnupg_home: tuple[str, str]
) -> None:
    home, fpr = gnupg_home
    # the config points at a key file that is not there: nothing verifies, and the reason says so
    head = repo.commit(RECORD, MALLORY, signing=SigningSpec("openpgp", fpr))
    cfg = make_config(
        tmp_path, bob=DomainTrust(gpg_keys=[str(tmp_path / "missing.asc")], require_signature=True)
    )
    [d] = collect(str(repo.path), head, None, cfg)
    assert not d.trusted and "cannot read the OpenPGP public key" in d.why_not


# -- a signature that is present but does not verify voids the record, whatever the e-mail says -------------
def _email_and_key(tmp_path: Path, ssh_keys: dict[str, Path]):  # type: ignore[no-untyped-def]
    key_line = Path(f"{ssh_keys['bob']}.pub").read_text().strip()
    # an allowed e-mail and a key, signatures not required
    return make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]], ssh_keys=[key_line]))


def _commit_with_signature(repo: Repo, signature: str, tamper: bool = False, key: Path | None = None) -> str:
    """A commit of RECORD by bob's e-mail carrying ``signature`` (or a real one by ``key``, made over other
    content when ``tamper``), as a forger would make it."""
    import pygit2

    main = repo.repo.references.get("refs/heads/main")
    parents = [main.target] if main is not None else []
    index = pygit2.Index()
    if parents:
        index.read_tree(repo.repo[parents[0]].peel(pygit2.Commit).tree)
    for path, text in RECORD.items():
        index.add(pygit2.IndexEntry(path, repo.repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo.repo)
    sig = pygit2.Signature(BOB[0], BOB[1], 1_700_000_000, 0)
    content = str(repo.repo.create_commit_string(sig, sig, "approve", tree, parents))
    if key is not None:
        from reconciler.approvals.signatures import sign_payload

        signed = content.replace("approve", "something else") if tamper else content
        signature = sign_payload(signed.encode(), SigningSpec("ssh", str(key))).decode()
    oid = repo.repo.create_commit_with_signature(content, signature)
    if main is None:
        repo.repo.references.create("refs/heads/main", oid)
    else:
        main.set_target(oid)
    return str(oid)


def test_approvals_untrusted_key_voids_the_allowed_email(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    # right e-mail, right folder, signatures not required: but the commit is signed with mallory's key
    head = repo.commit(RECORD, BOB, signing=SigningSpec("ssh", str(ssh_keys["mallory"])))
    [d] = collect(str(repo.path), head, None, _email_and_key(tmp_path, ssh_keys))
    assert not d.trusted
    assert "is signed, but its ssh signature is not by a key of domain bob" in d.why_not
    assert "voids the record whatever the committer e-mail" in d.why_not
    # the same content, unsigned, by the same e-mail counts: it is the failed signature that voids it
    head = repo.commit({"approvals/bob/job-psi.yaml": approval("job-psi", "bob", reason="unsigned")}, BOB)
    [d] = collect(str(repo.path), head, None, _email_and_key(tmp_path, ssh_keys))
    assert d.trusted, d.why_not


def test_approvals_signature_of_a_domain_without_keys_voids_the_email(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    head = repo.commit(RECORD, BOB, signing=SigningSpec("ssh", str(ssh_keys["bob"])))
    cfg = make_config(tmp_path, bob=DomainTrust(emails=[BOB[1]]))  # e-mails only, no keys listed
    [d] = collect(str(repo.path), head, None, cfg)
    assert not d.trusted and "no SSH keys are configured for bob" in d.why_not


def test_approvals_untrusted_openpgp_key_voids_the_email(
    repo: Repo, tmp_path: Path, gnupg_home: tuple[str, str], ssh_keys: dict[str, Path]
) -> None:
    _, fpr = gnupg_home
    head = repo.commit(RECORD, BOB, signing=SigningSpec("openpgp", fpr))
    [d] = collect(str(repo.path), head, None, _email_and_key(tmp_path, ssh_keys))
    assert not d.trusted and "openpgp signature is not by a key of domain bob" in d.why_not


@pytest.mark.parametrize(
    ("signature", "said"),
    [
        ("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n", "ssh signature is not by"),
        ("-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----\n", "x509 signature is of"),
        ("garbage\n", "unknown signature is of a kind"),
    ],
)
def test_approvals_broken_or_unknown_signature_voids_the_email(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path], signature: str, said: str
) -> None:
    head = _commit_with_signature(repo, signature)
    [d] = collect(str(repo.path), head, None, _email_and_key(tmp_path, ssh_keys))
    assert not d.trusted and said in d.why_not


def test_approvals_signature_over_other_content_voids_the_email(
    repo: Repo, tmp_path: Path, ssh_keys: dict[str, Path]
) -> None:
    # bob's real key, but the signature was made over another commit (a signature copied onto a forgery)
    head = _commit_with_signature(repo, "", tamper=True, key=ssh_keys["bob"])
    [d] = collect(str(repo.path), head, None, _email_and_key(tmp_path, ssh_keys))
    assert not d.trusted and "ssh signature is not by a key of domain bob" in d.why_not
    twin = Repo(tmp_path / "twin")
    good = _commit_with_signature(twin, "", key=ssh_keys["bob"])  # the honest twin verifies
    [d] = collect(str(twin.path), good, None, _email_and_key(tmp_path, ssh_keys))
    assert d.trusted and d.signed_by.startswith("SHA256:")
