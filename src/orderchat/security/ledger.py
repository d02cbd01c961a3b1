"""The signing-key ledger (KV OC_PARTY_KEYS): every public nkey a party ever signed with.

OC_CREDENTIALS says who may connect *now* (a revoked device's entry is deleted, a rotated
device's entry overwritten); order evidence needs more: whether a key belonged to the signer
*when it signed*. So each registration and revocation is also recorded here, per party, and
nothing is ever removed: a revoked key keeps verifying what it signed before its
`revoked_at` and is refused for anything new. One KV read per order command answers both
questions the orders service asks (must this party sign? is this key theirs and live?).

A device holds one key at a time: registering a new key for a device retires its previous
one. `device=None` is the party's own key (`User.public_key`, `orderchat orders keygen`)."""

from __future__ import annotations

from datetime import datetime, timezone

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.credentials import PartyKeys, SigningKey
from orderchat.services.framework import kv_snapshot
from orderchat.services.framework.typed_kv import TypedKV


class RevokedKeyError(ValueError):
    """A revoked key is never registered again: what it signed after revocation must stay
    distinguishable from what it signed before."""


def now() -> datetime:
    return datetime.now(timezone.utc)


async def ledger(js: JetStreamContext) -> TypedKV[PartyKeys]:
    return TypedKV(await js.key_value(names.KV_PARTY_KEYS), PartyKeys)


async def keys_of(kv: TypedKV[PartyKeys], tenant: str, user: str) -> PartyKeys:
    found = await kv.get(names.kv_key(tenant, user))
    return found[0] if found else PartyKeys(tenant=tenant, user=user)


def _with_key(current: PartyKeys, public_key: str, device: str | None, at: datetime) -> PartyKeys | None:
    known = current.key(public_key)
    if known is not None:
        if known.revoked_at is not None:
            raise RevokedKeyError(f"key {public_key} of {current.user} was revoked at {known.revoked_at.isoformat()}; make a new one")
        if known.device == device:
            return None  # registered again as it is (e.g. `users creds` reusing the stored seed)
    keys = [
        k.model_copy(update={"revoked_at": at}) if k.device == device and k.revoked_at is None and k.public_key != public_key else k
        for k in current.keys
        if k.public_key != public_key
    ]
    keys.append(SigningKey(public_key=public_key, device=device, registered_at=known.registered_at if known else at))
    return current.model_copy(update={"keys": tuple(keys)})


async def record(js: JetStreamContext, tenant: str, user: str, public_key: str, device: str | None, at: datetime | None = None) -> PartyKeys:
    """`public_key` signs for `user` from now on (from `device`, or as the party's own key);
    the device's previous key, if any, is retired."""
    at = at or now()
    kv = await ledger(js)
    key = names.kv_key(tenant, user)
    result, _ = await kv.update(key, lambda cur: _with_key(cur or PartyKeys(tenant=tenant, user=user), public_key, device, at))
    assert result is not None
    return result


async def check_registrable(js: JetStreamContext, tenant: str, user: str, public_key: str) -> None:
    """Raise RevokedKeyError before anything else is written for a key that was revoked."""
    known = (await keys_of(await ledger(js), tenant, user)).key(public_key)
    if known is not None and known.revoked_at is not None:
        raise RevokedKeyError(f"key {public_key} of {user} was revoked at {known.revoked_at.isoformat()}; make a new one")


async def retire(js: JetStreamContext, tenant: str, user: str, device: str | None, at: datetime | None = None) -> int:
    """Revoke the live device keys of `user` (one device, or every device when `device` is
    None; the party's own key is not a device key and stays). Returns how many."""
    at = at or now()
    kv = await ledger(js)
    retired = 0

    def change(current: PartyKeys | None) -> PartyKeys | None:
        nonlocal retired
        if current is None:
            return None
        hit = [k for k in current.keys if k.revoked_at is None and k.device is not None and (device is None or k.device == device)]
        retired = len(hit)
        if not hit:
            return None
        return current.model_copy(update={"keys": tuple(k.model_copy(update={"revoked_at": at}) if k in hit else k for k in current.keys)})

    await kv.update(names.kv_key(tenant, user), change)
    return retired


async def _all(js: JetStreamContext) -> dict[tuple[str, str], PartyKeys]:
    """Every party's ledger entry, in one read."""
    kv = await js.key_value(names.KV_PARTY_KEYS)
    found: dict[tuple[str, str], PartyKeys] = {}
    for entry in (await kv_snapshot.snapshot(kv)).entries:
        if entry.value:
            keys = PartyKeys.model_validate_json(entry.value)
            found[(keys.tenant, keys.user)] = keys
    return found


async def backfill(js: JetStreamContext) -> int:
    """Record device keys registered before the ledger existed (from OC_CREDENTIALS, as of
    their `created_at`); idempotent: two reads, and a write only for what is missing.
    Returns how many keys were added."""
    from .registry import credentials  # registry records into the ledger itself

    known = await _all(js)
    added = 0
    for credential in await credentials(js):
        party = known.get((credential.tenant, credential.user))
        if party is None or party.key(credential.public_key) is None:
            await record(js, credential.tenant, credential.user, credential.public_key, credential.device, credential.created_at)
            added += 1
    return added
