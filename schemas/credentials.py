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
