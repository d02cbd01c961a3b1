"""The catalog of every channel orderchat uses: address, direction, payload and reply models.

It is the source of the AsyncAPI document and the JSON Schemas, and tests check that every
subject the running services subscribe to or publish on is listed here. A service that adds
a subject adds its channel here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from . import names
from .chat import (
    BroadcastReply,
    BroadcastRequest,
    ChatMessage,
    HistoryReply,
    HistoryRequest,
    PostRequest,
    SendAccepted,
    SendRequest,
)
from .conversations import (
    ConvCreate,
    ConvListReply,
    ConvListRequest,
    ConvMembersChange,
    ConvReply,
    SessionOpen,
    SessionReply,
)
from .errors import ErrorReply
from .inbox import InboxEvent

Payload = type[BaseModel] | Any  # a model or an annotated union


@dataclass(frozen=True)
class Channel:
    id: str
    address: str
    description: str
    # From a client's point of view: "request" (send, get a reply), "receive" (read),
    # "publish" (fire and forget), "service" (between services only).
    pattern: Literal["request", "receive", "publish", "service"]
    payload: Payload
    reply: Payload | None = None
    stream: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def wildcard(self) -> str:
        return re.sub(r"\{[^}]+\}", "*", self.address)

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.address)

    def matches(self, subject: str) -> bool:
        return subject_matches(self.wildcard, subject)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching; a wildcard in `subject` matches only a wildcard (or `>`)."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s):
            return False
        if token != "*" and token != s[i]:
            return False
        if token == "*" and s[i] == ">":
            return False
    return len(p) == len(s)


def ingress_address(op: str) -> str:
    return f"{names.PREFIX}.{{tenant}}.in.{{user}}.{op}"


CHANNELS: list[Channel] = [
    Channel("chatSend", ingress_address(names.OP_SEND), "Send a chat message; the reply carries its conversation sequence.", "request", SendRequest, SendAccepted, tags=("chat",)),
    Channel("chatBroadcast", ingress_address(names.OP_BROADCAST), "One request to many suppliers, delivered as separate one-to-one messages.", "request", BroadcastRequest, BroadcastReply, tags=("chat",)),
    Channel("chatHistory", ingress_address(names.OP_HISTORY), "Page a conversation's history by sequence.", "request", HistoryRequest, HistoryReply, tags=("chat",)),
    Channel("convCreate", ingress_address(names.OP_CONV_CREATE), "Create a direct or group conversation (idempotent).", "request", ConvCreate, ConvReply, tags=("chat",)),
    Channel("convMembers", ingress_address(names.OP_CONV_MEMBERS), "Add or remove group members.", "request", ConvMembersChange, ConvReply, tags=("chat",)),
    Channel("convList", ingress_address(names.OP_CONV_LIST), "The user's conversations with last message and unread count.", "request", ConvListRequest, ConvListReply, tags=("chat",)),
    Channel("sessionOpen", ingress_address(names.OP_SESSION_OPEN), "Register a device; the reply names its inbox consumer on stream CHAT.", "request", SessionOpen, SessionReply, tags=("chat",)),
    Channel("conversationHistory", f"{names.PREFIX}.{{tenant}}.conv.{{conv}}", "A conversation's canonical history; read through the device's inbox consumer.", "receive", ChatMessage, stream=names.STREAM_CHAT, tags=("chat",)),
    Channel("userInbox", f"{names.PREFIX}.{{tenant}}.inbox.{{user}}", "Events addressed to one user: receipts, membership, order updates.", "receive", InboxEvent, stream=names.STREAM_CHAT, tags=("chat",)),
    Channel("deliveryPost", f"{names.PREFIX}.{{tenant}}.svc.delivery.post", "Services post order cards and notices into conversations.", "service", PostRequest, SendAccepted, tags=("internal",)),
    Channel("deadLetters", f"{names.PREFIX}.{{tenant}}.dlq.{{service}}", "Inputs a service could not process; headers carry the reason (Oc-Reason, Oc-Error-Code, Oc-Original-Subject).", "receive", bytes, stream=names.STREAM_DLQ, tags=("ops",)),
]


def channel_for(subject: str) -> Channel | None:
    return next((c for c in CHANNELS if c.matches(subject)), None)


def schema_of(payload: Payload) -> dict[str, Any]:
    if payload is bytes:
        return {"type": "string", "contentEncoding": "binary", "description": "the original raw payload"}
    return TypeAdapter(payload).json_schema(ref_template="#/components/schemas/{model}")


ERROR_REPLY = ErrorReply

# Payloads that are unions (discriminated by `type` or `kind`) have no class name of their own.
NAMED_UNIONS: dict[str, Any] = {"InboxEvent": InboxEvent}
