"""Who may connect to NATS: one public nkey per party device (KV bucket OC_CREDENTIALS,
key `<tenant>.<user>.<device>`). The private seed never enters the system; it stays with
whoever holds the device (or the admin's key store until handed over)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import Stored
from .ids import DeviceId, TenantId, UserId

# An nkey user public key: "U" + 55 base32 characters.
USER_PUBLIC_KEY_RE = r"^U[A-Z2-7]{55}$"


class DeviceCredential(Stored):
    tenant: TenantId
    user: UserId
    device: DeviceId
    public_key: str = Field(pattern=USER_PUBLIC_KEY_RE)
    created_at: datetime


class SigningKey(Stored):
    """One public nkey a party signs with, and when it could: a device key (`device` set,
    registered in OC_CREDENTIALS) or the party's own key (`device` None, `User.public_key`).
    Never deleted: a revoked or rotated key keeps verifying what it signed before
    `revoked_at`, and signs nothing after."""

    public_key: str = Field(pattern=USER_PUBLIC_KEY_RE)
    device: DeviceId | None = None
    registered_at: datetime
    revoked_at: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.registered_at <= moment and (self.revoked_at is None or moment < self.revoked_at)


class PartyKeys(Stored):
    """Every signing key a party ever held (KV OC_PARTY_KEYS, key `<tenant>.<user>`): one read
    tells whether the party must sign and whether a key is (or was) theirs."""

    tenant: TenantId
    user: UserId
    keys: tuple[SigningKey, ...] = ()

    def key(self, public_key: str) -> SigningKey | None:
        return next((k for k in self.keys if k.public_key == public_key), None)

    def active(self, moment: datetime) -> tuple[SigningKey, ...]:
        return tuple(k for k in self.keys if k.active_at(moment))
