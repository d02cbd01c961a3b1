"""Conversations: one-to-one, groups with roles, and broadcast requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from .base import Inbound, Ok, Stored
from .ids import ConvId, UserId


class ConvKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class MemberRole(StrEnum):
    BUYER = "buyer"
    SUPPLIER = "supplier"
    OBSERVER = "observer"


class Member(Stored):
    user: UserId
    role: MemberRole
    joined_at: datetime | None = None


class Conversation(Stored):
    id: ConvId
    tenant: str
    kind: ConvKind
    title: str = ""
    members: tuple[Member, ...]
    created_by: UserId
    created_at: datetime

    def member(self, user: str) -> Member | None:
        return next((m for m in self.members if m.user == user), None)

    def member_ids(self) -> list[str]:
        return [m.user for m in self.members]


class MemberSpec(Inbound):
    user: UserId
    role: MemberRole | None = None  # default: the user's party role (buyer/supplier)


class ConvCreate(Inbound):
    """Create a conversation; idempotent: a direct conversation has a fixed id, a group may
    carry a client-chosen id so a retried create returns the same group."""

    kind: ConvKind
    members: list[MemberSpec] = Field(min_length=1, max_length=5000)
    title: str = Field(default="", max_length=200)
    id: ConvId | None = None

    @model_validator(mode="after")
    def _direct_has_one_peer(self) -> "ConvCreate":
        if self.kind is ConvKind.DIRECT and len(self.members) != 1:
            raise ValueError("a direct conversation names exactly one other member")
        return self


class ConvMembersChange(Inbound):
    conv: ConvId
    add: list[MemberSpec] = Field(default_factory=list, max_length=5000)
    remove: list[UserId] = Field(default_factory=list, max_length=5000)


class ConvReply(Ok):
    conversation: Conversation
    created: bool = False


class ConvSummary(Stored):
    conversation: Conversation
    last_seq: int = 0
    last_message: dict | None = None
    unread: int = 0
    read_up_to: int = 0


class ConvListRequest(Inbound):
    limit: int = Field(default=200, ge=1, le=5000)


class ConvListReply(Ok):
    conversations: list[ConvSummary]


class Membership(Stored):
    """A user's conversations: the filter list of each of the user's device consumers."""

    user: UserId
    convs: tuple[ConvId, ...] = ()


class SessionOpen(Inbound):
    device: str = Field(default="main", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")


class SessionReply(Ok):
    stream: str
    consumer: str
    convs: int
    kind: Literal["session"] = "session"
