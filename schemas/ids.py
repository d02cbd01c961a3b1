"""Identifier types: every id becomes a NATS subject token or a KV key part, so the allowed
characters are narrow on purpose (no dots, wildcards or spaces)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import StringConstraints

TENANT_RE = r"^[a-z0-9][a-z0-9-]{0,31}$"
USER_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
CONV_RE = r"^[a-z0-9][a-z0-9_-]{0,127}$"
DEVICE_RE = r"^[a-z0-9][a-z0-9-]{0,31}$"
CLIENT_MSG_ID_RE = r"^[A-Za-z0-9_-]{1,64}$"
ORDER_RE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"

TenantId = Annotated[str, StringConstraints(pattern=TENANT_RE)]
UserId = Annotated[str, StringConstraints(pattern=USER_RE)]
ConvId = Annotated[str, StringConstraints(pattern=CONV_RE)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_RE)]
ClientMsgId = Annotated[str, StringConstraints(pattern=CLIENT_MSG_ID_RE)]
OrderId = Annotated[str, StringConstraints(pattern=ORDER_RE)]

SYSTEM_USER = "system"


def is_user_id(value: str) -> bool:
    return re.fullmatch(USER_RE, value) is not None


def direct_conv_id(a: str, b: str) -> str:
    """The one-to-one conversation of two users: the same id whoever starts it."""
    first, second = sorted((a, b))
    return f"dm_{first}_{second}"


def group_conv_id(title: str, salt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "group"
    digest = hashlib.blake2s(f"{title}\x00{salt}".encode(), digest_size=4).hexdigest()
    return f"g_{slug}_{digest}"
