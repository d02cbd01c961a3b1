"""Events addressed to one user (subject oc.<t>.inbox.<user>, stream CHAT).

A device's inbox consumer reads these together with the history subjects of the user's
conversations, so one ordered feed carries messages, receipts and membership changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from .base import Stored
from .conversations import Conversation
from .ids import ConvId, UserId


class ConvJoined(Stored):
    type: Literal["conv_joined"] = "conv_joined"
    conversation: Conversation


class ConvLeft(Stored):
    type: Literal["conv_left"] = "conv_left"
    conv: ConvId


class ReceiptEvent(Stored):
    """Someone delivered or read messages of a conversation you are in."""

    type: Literal["receipt"] = "receipt"
    conv: ConvId
    user: UserId
    device: str | None = None
    status: Literal["delivered", "read"]
    up_to: int
    ts: datetime


class OrderEventNotice(Stored):
    """An order of yours changed (the full event lives in stream ORDERS)."""

    type: Literal["order_event"] = "order_event"
    order_id: str
    event: str
    state: str
    revision: int
    ts: datetime
    data: dict[str, Any] | None = None


InboxEvent = Annotated[
    Union[ConvJoined, ConvLeft, ReceiptEvent, OrderEventNotice], Field(discriminator="type")
]
