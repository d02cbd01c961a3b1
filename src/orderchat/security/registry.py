"""Which party devices may connect: public nkeys in KV bucket OC_CREDENTIALS."""

from __future__ import annotations

from datetime import datetime, timezone

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.credentials import DeviceCredential
from orderchat.services.framework import kv_snapshot

from . import ledger


async def _bucket(js: JetStreamContext):  # type: ignore[no-untyped-def]
    return await js.key_value(names.KV_CREDENTIALS)


async def register(js: JetStreamContext, tenant: str, user: str, device: str, public_key: str) -> DeviceCredential:
    """Admit `public_key` as `user`'s `device` (replacing that device's previous key), and
    record it in the signing-key ledger: a device key also signs its party's orders."""
    await ledger.check_registrable(js, tenant, user, public_key)
    credential = DeviceCredential(
        tenant=tenant, user=user, device=device, public_key=public_key, created_at=datetime.now(timezone.utc)
    )
    kv = await _bucket(js)
    await kv.put(names.kv_key(tenant, user, device), credential.model_dump_json().encode())
    await ledger.record(js, tenant, user, public_key, device, credential.created_at)
    return credential


async def credentials(js: JetStreamContext, pattern: str = ">") -> list[DeviceCredential]:
    """Every registered device matching a key pattern (`<t>.<user>.*`, or all), in one read
    rather than a get per key."""
    snap = await kv_snapshot.snapshot(await _bucket(js), pattern)
    found = [DeviceCredential.model_validate_json(e.value) for e in snap.entries if e.value]
    return sorted(found, key=lambda c: (c.tenant, c.user, c.device))


async def credentials_of(js: JetStreamContext, tenant: str, user: str) -> list[DeviceCredential]:
    return await credentials(js, f"{names.kv_key(tenant, user)}.*")


async def revoke(js: JetStreamContext, tenant: str, user: str, device: str | None = None) -> int:
    """Remove one device's credential, or all of a user's; returns how many were removed.
    The ledger keeps the removed keys, marked revoked: they sign nothing new, and what they
    signed before stays verifiable."""
    kv = await _bucket(js)
    removed = 0
    at = datetime.now(timezone.utc)
    for credential in await credentials_of(js, tenant, user):
        if device is None or credential.device == device:
            await kv.delete(names.kv_key(tenant, user, credential.device))
            removed += 1
    await ledger.retire(js, tenant, user, device, at)
    return removed
