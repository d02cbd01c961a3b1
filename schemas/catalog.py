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
    PositionsReply,
    PositionsRequest,
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
from .alerts import SlaBreachAlert
from .base import Ok
from .errors import ErrorReply
from .inbox import InboxEvent
from .orders import (
    AcceptChanges,
    AmendOrder,
    CancelOrder,
    CloseOrder,
    ConfirmOrder,
    CreateOrder,
    DeclineChanges,
    ListOrders,
    OrderEvent,
    OrderEventsReply,
    OrderEventsRequest,
    OrderListReply,
    OrderReply,
    ProposeChanges,
    ReceiveOrder,
    RejectOrder,
    SendOrder,
    ShipOrder,
    ShowOrder,
)
from .search import ExportReply, ExportRequest, SearchReply, SearchRequest
from .receipts import (
    CursorReply,
    DeliveredRequest,
    LiveEvent,
    PresenceBeat,
    PresenceReply,
    PresenceRequest,
    ReadRequest,
    StatusReply,
    StatusRequest,
    TypingRequest,
)

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
    Channel("receiptRead", ingress_address(names.OP_READ), "Mark a conversation read up to a sequence (default: its end); cursors only move forward.", "request", ReadRequest, CursorReply, tags=("receipts",)),
    Channel("receiptDelivered", ingress_address(names.OP_DELIVERED), "Sent by the client itself after acknowledging an inbox batch: one per conversation per batch.", "request", DeliveredRequest, CursorReply, tags=("receipts",)),
    Channel("receiptStatus", ingress_address(names.OP_RECEIPT_STATUS), "Per message and member: sent / delivered / read with times, and counts.", "request", StatusRequest, StatusReply, tags=("receipts",)),
    Channel("typing", ingress_address(names.OP_TYPING), "A keystroke event; relayed to the other members' live subjects, never stored.", "request", TypingRequest, Ok, tags=("receipts",)),
    Channel("presenceBeat", ingress_address(names.OP_PRESENCE), "A device's heartbeat (or goodbye); kept in KV with a per-key TTL.", "request", PresenceBeat, Ok, tags=("receipts",)),
    Channel("presenceGet", ingress_address(names.OP_PRESENCE_GET), "Online / offline / last seen of users.", "request", PresenceRequest, PresenceReply, tags=("receipts",)),
    Channel("userLive", f"{names.PREFIX}.{{tenant}}.live.{{user}}", "Volatile per-user events over core NATS (typing); never stored.", "receive", LiveEvent, tags=("receipts",)),
    Channel("search", ingress_address(names.OP_SEARCH), "Search the caller's orders and conversations (Chinese, English, mixed); a supplier finds only its own.", "request", SearchRequest, SearchReply, tags=("archive",)),
    Channel("export", ingress_address(names.OP_EXPORT), "A supplier's orders of one month, one row per line, with states, amounts and times to read and answer.", "request", ExportRequest, ExportReply, tags=("archive",)),
    Channel("deliveryPost", f"{names.PREFIX}.{{tenant}}.svc.delivery.post", "Services post order cards and notices into conversations.", "service", PostRequest, SendAccepted, tags=("internal",)),
    Channel("archivePositions", f"{names.PREFIX}.{{tenant}}.svc.archive.{names.SVC_POSITIONS}", "Where the archive saw a conversation's messages in CHAT (history pages read them by stream sequence).", "service", PositionsRequest, PositionsReply, tags=("internal",)),
    Channel("alerts", f"{names.PREFIX}.{{tenant}}.alert.{{kind}}", "Operational alerts; kind `sla_breach`: a supplier did not read or answer an order card in time (once per breach).", "receive", SlaBreachAlert, stream=names.STREAM_ALERTS, tags=("ops",)),
    Channel("orderCreate", ingress_address(names.order_command_op("create")), "A buyer creates an order (idempotent by command id and by external reference); its card goes to the supplier.", "request", CreateOrder, OrderReply, tags=("orders",)),
    Channel("orderSend", ingress_address(names.order_command_op("send")), "The buyer sends a draft: its card goes into the buyer–supplier conversation.", "request", SendOrder, OrderReply, tags=("orders",)),
    Channel("orderConfirm", ingress_address(names.order_command_op("confirm")), "The supplier confirms a revision as it is (signed when the supplier has a key).", "request", ConfirmOrder, OrderReply, tags=("orders",)),
    Channel("orderPropose", ingress_address(names.order_command_op("propose")), "The supplier answers line by line (855/ORDRSP: accepted, accepted with changes, backordered, rejected).", "request", ProposeChanges, OrderReply, tags=("orders",)),
    Channel("orderReject", ingress_address(names.order_command_op("reject")), "The supplier rejects the whole order.", "request", RejectOrder, OrderReply, tags=("orders",)),
    Channel("orderAcceptChanges", ingress_address(names.order_command_op("accept_changes")), "The buyer accepts the supplier's proposal: revision n+1, confirmed.", "request", AcceptChanges, OrderReply, tags=("orders",)),
    Channel("orderDeclineChanges", ingress_address(names.order_command_op("decline_changes")), "The buyer declines the supplier's proposal; the supplier answers again.", "request", DeclineChanges, OrderReply, tags=("orders",)),
    Channel("orderAmend", ingress_address(names.order_command_op("amend")), "The buyer amends an open order: a new revision the supplier answers again.", "request", AmendOrder, OrderReply, tags=("orders",)),
    Channel("orderCancel", ingress_address(names.order_command_op("cancel")), "The buyer cancels an open order.", "request", CancelOrder, OrderReply, tags=("orders",)),
    Channel("orderShip", ingress_address(names.order_command_op("ship")), "The supplier ships a confirmed order.", "request", ShipOrder, OrderReply, tags=("orders",)),
    Channel("orderReceive", ingress_address(names.order_command_op("receive")), "The buyer receives a shipped order.", "request", ReceiveOrder, OrderReply, tags=("orders",)),
    Channel("orderClose", ingress_address(names.order_command_op("close")), "The buyer closes a received order.", "request", CloseOrder, OrderReply, tags=("orders",)),
    Channel("orderShow", ingress_address(names.order_command_op("show")), "An order's current state (a party's or ops'); `rebuild` re-projects it from its events.", "request", ShowOrder, OrderReply, tags=("orders",)),
    Channel("orderList", ingress_address(names.order_command_op("list")), "The caller's orders, newest change first.", "request", ListOrders, OrderListReply, tags=("orders",)),
    Channel("orderEventsRead", ingress_address(names.order_command_op("events")), "An order's events exactly as stored, with both parties: the evidence to verify.", "request", OrderEventsRequest, OrderEventsReply, tags=("orders",)),
    Channel("orderEvents", f"{names.PREFIX}.{{tenant}}.order.{{order}}.evt", "An order's event log: every transition with who, when and why, hash-chained (JCS + sha256), appended with an expected last subject sequence.", "receive", OrderEvent, stream=names.STREAM_ORDERS, tags=("orders",)),
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
