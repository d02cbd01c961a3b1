"""Receipts, typing and presence: requests, replies, KV values and live events.

Read and delivered state is kept as one cursor per (conversation, user), never as a record per
message: "read up to 9" covers messages 1..9, a duplicate or late "read up to 5" changes nothing
(cursors only move forward), and the status of any message for any member is a comparison."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Inbound, Ok, Stored
from .ids import ConvId, DeviceId, UserId

TYPING_TTL = 5.0
"""Seconds a typing indicator stays on after the last keystroke event."""

PRESENCE_TTL = 30
"""Default seconds a presence heartbeat keeps a device online (the KV per-key TTL)."""


# -- KV values ---------------------------------------------------------------------------------


class ReadCursor(Stored):
    """KV `OC_READ`, key `<tenant>.<conv>.<user>`: the user read everything up to `up_to`.
    A shared contract: the orders service marks an order card "seen" from it."""

    conv: ConvId
    user: UserId
    up_to: int
    ts: datetime


class DeliveredCursor(Stored):
    """KV `OC_DELIVERED`, key `<tenant>.<conv>.<user>`: some device of the user fetched and
    acknowledged everything up to `up_to`."""

    conv: ConvId
    user: UserId
    up_to: int
    ts: datetime
    device: str | None = None


class DevicePresence(Stored):
    device: str
    expires: datetime


class OnlineState(Stored):
    """KV `OC_PRESENCE`, key `<tenant>.<user>.online`, written with a per-key TTL: the key
    vanishes by itself when no device has beaten for a while."""

    user: UserId
    devices: tuple[DevicePresence, ...] = ()
    last_seen: datetime


class LastSeen(Stored):
    """KV `OC_PRESENCE`, key `<tenant>.<user>.seen`, no TTL: survives the online key."""

    user: UserId
    device: str
    ts: datetime


# -- requests and replies ----------------------------------------------------------------------


class ReadRequest(Inbound):
    """Mark a conversation read up to `up_to` (default: its last message)."""

    conv: ConvId
    up_to: int | None = Field(default=None, ge=1)


class DeliveredRequest(Inbound):
    """Sent by a client by itself after it acknowledged a fetched batch from its inbox: one
    request per conversation per batch, carrying the highest sequence of that batch."""

    conv: ConvId
    up_to: int = Field(ge=1)
    device: DeviceId = "main"


class CursorReply(Ok):
    conv: ConvId
    user: UserId
    status: Literal["delivered", "read"]
    up_to: int
    """The cursor after the request (may be ahead of what was asked)."""
    moved: bool
    """False for a duplicate or late receipt: nothing changed."""
    last_seq: int


class StatusRequest(Inbound):
    """Per-message, per-member receipt state for a page of a conversation (same paging as
    the history request)."""

    conv: ConvId
    before: int | None = Field(default=None, ge=1)
    after: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=500)


class MemberStatus(Stored):
    user: UserId
    status: Literal["sender", "sent", "delivered", "read"]
    delivered_at: datetime | None = None
    read_at: datetime | None = None


class MessageStatus(Stored):
    seq: int
    sender: UserId
    sent_at: datetime
    recipients: int
    delivered: int
    read: int
    members: list[MemberStatus]


class MemberCursors(Stored):
    user: UserId
    delivered_up_to: int = 0
    read_up_to: int = 0


class StatusReply(Ok):
    """`messages` may cover fewer than asked: a reply holds at most ~5000 member rows (one
    message of a 5000-member group, 100 of a 50-member one); `has_more` says more follow."""

    conv: ConvId
    last_seq: int
    cursors: list[MemberCursors]
    messages: list[MessageStatus]
    has_more: bool = False


class TypingRequest(Inbound):
    """A keystroke event; clients send it at most every couple of seconds while typing."""

    conv: ConvId


class PresenceBeat(Inbound):
    device: DeviceId = "main"
    state: Literal["online", "offline"] = "online"
    ttl: int = Field(default=PRESENCE_TTL, ge=1, le=3600)


class PresenceRequest(Inbound):
    users: list[UserId] = Field(min_length=1, max_length=1000)


class UserPresence(Stored):
    user: UserId
    online: bool
    devices: list[str] = Field(default_factory=list)
    last_seen: datetime | None = None


class PresenceReply(Ok):
    users: list[UserPresence]


# -- live events (core NATS, oc.<t>.live.<user>, never stored) ---------------------------------


class TypingEvent(Stored):
    type: Literal["typing"] = "typing"
    conv: ConvId
    user: UserId
    ts: datetime
    expires_in: float = TYPING_TTL


LiveEvent = TypingEvent
"""What arrives on a user's live subject; a discriminated union once there is a second kind."""
