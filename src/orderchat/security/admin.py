"""Issuing and revoking party credentials: the key store, the registry and the server's
authorization kept in step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from orderchat.schemas.credentials import DeviceCredential

from . import registry
from .keys import KeyStore


@dataclass(frozen=True)
class Issued:
    credential: DeviceCredential
    # The seed file to hand to the party; None when the party brought its own public key.
    seed_file: Path | None


async def issue_device(
    js: JetStreamContext,
    keystore: KeyStore,
    tenant: str,
    user: str,
    device: str = "main",
    *,
    public_key: str | None = None,
    rotate: bool = False,
) -> Issued:
    """Register a device's public key. With `public_key` the party keeps its seed to itself
    (best: the private key never leaves its device); otherwise a seed is made (or reused)
    in the key store, and `rotate` replaces it."""
    if public_key is not None:
        credential = await registry.register(js, tenant, user, device, public_key)
        return Issued(credential, None)
    path = keystore.party_path(tenant, user, device)
    key = keystore.replace(path) if rotate else keystore.ensure(path)
    credential = await registry.register(js, tenant, user, device, key)
    return Issued(credential, path)


async def revoke_user(js: JetStreamContext, keystore: KeyStore, tenant: str, user: str, device: str | None = None) -> int:
    removed = await registry.revoke(js, tenant, user, device)
    if device is None:
        keystore.forget_party(tenant, user)
    else:
        keystore.party_path(tenant, user, device).unlink(missing_ok=True)
    return removed
