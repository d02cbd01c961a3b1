"""Chat messages: what a client sends, what the history and inboxes hold."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from .base import Inbound, Ok, Stored
from .cards import OrderCardView
from .ids import ClientMsgId, ConvId, UserId

MAX_TEXT = 8000


class TextBody(Inbound):
    kind: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class AttachmentBody(Inbound):
    """A reference to a file kept elsewhere (object store, ERP); chat carries only the pointer."""

    kind: Literal["attachment"] = "attachment"
    name: str = Field(min_length=1, max_length=255)
    url: str = Field(min_length=1, max_length=2048)
    mime: str = Field(default="application/octet-stream", max_length=127)
    size: int = Field(default=0, ge=0)
    caption: str = Field(default="", max_length=MAX_TEXT)


class OrderCardBody(Stored):
    """Posted by the orders service only; clients cannot forge it (see `ClientBody`)."""

    kind: Literal["order_card"] = "order_card"
    card: OrderCardView


class NoticeBody(Stored):
    """A system notice (order state changed, SLA breach, member joined)."""

    kind: Literal["notice"] = "notice"
    text: str
    code: str = "info"
    order_id: str | None = None
    data: dict | None = None


ClientBody = Annotated[Union[TextBody, AttachmentBody], Field(discriminator="kind")]
AnyBody = Annotated[Union[TextBody, AttachmentBody, OrderCardBody, NoticeBody], Field(discriminator="kind")]


class SendRequest(Inbound):
    """A client's message. `client_msg_id` makes retries safe: the same id is stored once
    (JetStream's Nats-Msg-Id dedupe) and answered with the same sequence."""

    client_msg_id: ClientMsgId
    conv: ConvId | None = None
    to: UserId | None = None
    body: ClientBody
    reply_to: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_target(self) -> "SendRequest":
        if (self.conv is None) == (self.to is None):
            raise ValueError("name exactly one of `conv` or `to`")
        return self


class SendAccepted(Ok):
    conv: ConvId
    seq: int
    stream_seq: int
    ts: datetime
    duplicate: bool = False


class BroadcastRequest(Inbound):
    """One request to many suppliers, delivered as separate one-to-one messages."""

    client_msg_id: ClientMsgId
    to: list[UserId] = Field(min_length=1, max_length=1000)
    body: ClientBody


class BroadcastResult(Stored):
    to: UserId
    ok: bool
    conv: ConvId | None = None
    seq: int | None = None
    error: str | None = None


class BroadcastReply(Ok):
    results: list[BroadcastResult]


class ChatMessage(Stored):
    """A message as stored in a conversation's history (subject oc.<t>.conv.<conv>)."""

    type: Literal["message"] = "message"
    conv: ConvId
    seq: int
    sender: UserId
    client_msg_id: str
    ts: datetime
    body: AnyBody
    reply_to: int | None = None


class HistoryRequest(Inbound):
    conv: ConvId
    before: int | None = Field(default=None, ge=1)
    after: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=500)


class HistoryReply(Ok):
    conv: ConvId
    messages: list[ChatMessage]
    last_seq: int
    has_more: bool


MAX_POSITIONS = 500


class PositionsRequest(Stored):
    """Service-to-service (oc.<t>.svc.archive.positions): where in stream CHAT the archive
    has seen messages `first`..`last` of a conversation. History pages read those messages
    by their stream sequences instead of searching the stream for them."""

    conv: ConvId
    first: int = Field(ge=1)
    last: int = Field(ge=1)

    @model_validator(mode="after")
    def _range(self) -> "PositionsRequest":
        if self.last < self.first or self.last - self.first >= MAX_POSITIONS:
            raise ValueError(f"first..last must name 1 to {MAX_POSITIONS} messages")
        return self


class PositionsReply(Ok):
    """(conversation sequence, stream sequence) pairs, ascending and gapless from `first`;
    it ends early where the archive has not seen a message (yet)."""

    conv: ConvId
    positions: list[tuple[int, int]]


class PostRequest(Stored):
    """Service-to-service: post an order card or a notice into a conversation (subject
    oc.<t>.svc.delivery.post, open to service users only). `between` names a direct
    conversation by its two parties, created if missing."""

    msg_id: str = Field(min_length=1, max_length=200)
    conv: ConvId | None = None
    between: tuple[UserId, UserId] | None = None
    sender: UserId
    body: AnyBody

    @model_validator(mode="after")
    def _one_target(self) -> "PostRequest":
        if (self.conv is None) == (self.between is None):
            raise ValueError("name exactly one of `conv` or `between`")
        return self
