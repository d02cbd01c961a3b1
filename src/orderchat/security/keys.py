"""The local key store: nkey seeds on disk, one file per identity, readable by its owner only.

Layout under `<home>/creds/` (home is ~/.orderchat or ORDERCHAT_HOME):
    system/admin.nk             the CLI's admin commands (users, provision)
    system/services.nk          `orderchat up`'s service host (or system/<service>.nk)
    <tenant>/<user>/<device>.nk a party device; hand this file to the party
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys

SEED_SUFFIX = ".nk"
ADMIN = "admin"
SERVICES = "services"


def new_seed() -> str:
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()


def public_key_of(seed: str) -> str:
    return nkeys.from_seed(seed.encode()).public_key.decode()


def read_seed(path: Path) -> str:
    """The seed of a `.nk` file, or of a `.creds` file's seed section."""
    text = path.read_text()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("SU") and len(line) > 50:
            return line
    raise ValueError(f"{path} holds no nkey user seed")


def auth_options(path: Path | str) -> dict[str, Any]:
    """nats-py connect options for a credentials file: a `.creds` file (JWT + seed) or a
    plain nkey seed file."""
    path = Path(path)
    if "BEGIN NATS USER JWT" in path.read_text():
        return {"user_credentials": str(path)}
    return {"nkeys_seed": str(path)}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


@dataclass(frozen=True)
class KeyStore:
    root: Path

    @classmethod
    def of_home(cls, home: Path) -> "KeyStore":
        return cls(home / "creds")

    def system_path(self, name: str) -> Path:
        return self.root / "system" / f"{name}{SEED_SUFFIX}"

    def party_path(self, tenant: str, user: str, device: str) -> Path:
        return self.root / tenant / user / f"{device}{SEED_SUFFIX}"

    def ensure(self, path: Path) -> str:
        """The public key of the seed at `path`, creating the seed if there is none."""
        if not path.exists():
            _write_private(path, new_seed() + "\n")
        return public_key_of(read_seed(path))

    def replace(self, path: Path) -> str:
        """A fresh seed at `path` (rotation): the old one stops working once applied."""
        _write_private(path, new_seed() + "\n")
        return public_key_of(read_seed(path))

    def system_identities(self) -> dict[str, str]:
        """name -> public key of every system identity in the store."""
        folder = self.root / "system"
        if not folder.is_dir():
            return {}
        return {p.stem: public_key_of(read_seed(p)) for p in sorted(folder.glob(f"*{SEED_SUFFIX}"))}

    def forget_party(self, tenant: str, user: str) -> None:
        folder = self.root / tenant / user
        if folder.is_dir():
            for seed in folder.glob(f"*{SEED_SUFFIX}"):
                seed.unlink()
            folder.rmdir()


def broker_security(options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The same connect options for FastStream's NatsBroker, which takes credentials and TLS
    as one `security=` object: (security or None, the remaining nats-py options)."""
    from faststream.nats import NatsCredentials, NatsNKey
    from faststream.security import BaseSecurity

    rest = dict(options)
    tls = rest.pop("tls", None)
    seed, creds = rest.pop("nkeys_seed", None), rest.pop("user_credentials", None)
    if seed is not None:
        return NatsNKey.from_file(seed, ssl_context=tls), rest
    if creds is not None:
        return NatsCredentials.from_file(creds, ssl_context=tls), rest
    if tls is not None:
        return BaseSecurity(ssl_context=tls), rest
    return None, rest
