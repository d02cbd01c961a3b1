"""Searching the archive of conversations and orders, and exporting a supplier's month.

Requests arrive on the caller's own ingress subject (`oc.<t>.in.<user>.search`,
`oc.<t>.in.<user>.export`), so what a caller can find is decided by who the subject says
they are: a supplier finds only its own conversations and order lines."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, Field, field_validator, model_validator

from .base import Inbound, Ok, Stored
from .ids import ConvId, UserId

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"


class SearchKind(StrEnum):
    ORDER = "order"
    CHAT = "chat"


class SearchRequest(Inbound):
    """`query` is words in any order (Chinese needs no spaces: `蓝色中性笔`, `A4纸`); every
    word must match. Hits come newest first; page back with `until` = the last hit's `ts`."""

    query: str = Field(min_length=1, max_length=200)
    supplier: UserId | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    kind: SearchKind | None = None
    limit: int = Field(default=50, ge=1, le=200)
    # Read-your-writes: answer only once the archive applied these stream sequences
    # (a SendAccepted's `stream_seq`, an order event's sequence); waits a few seconds at most.
    chat_seq: int | None = Field(default=None, ge=0)
    orders_seq: int | None = Field(default=None, ge=0)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value

    @model_validator(mode="after")
    def _range(self) -> "SearchRequest":
        if self.since and self.until and self.since >= self.until:
            raise ValueError("`since` must be before `until`")
        return self


class ChatHit(Stored):
    kind: Literal["chat"] = "chat"
    conv: ConvId
    conv_title: str = ""
    seq: int
    stream_seq: int
    sender: UserId
    ts: datetime
    body_kind: str
    text: str
    order_id: str | None = None


class OrderHit(Stored):
    """One order line that matched, with its order's current state."""

    kind: Literal["order"] = "order"
    order_id: str
    erp_ref: str | None = None
    buyer: UserId
    supplier: UserId
    state: str
    ts: datetime
    line_id: str
    sku: str
    description: str
    category: str | None = None
    quantity: Decimal
    unit: str = "pcs"
    unit_price: Decimal | None = None


SearchHit = Annotated[Union[ChatHit, OrderHit], Field(discriminator="kind")]


class SearchReply(Ok):
    query: str
    hits: list[SearchHit]
    # Where the archive stood when it answered (stream sequences applied).
    chat_seq: int = 0
    orders_seq: int = 0
    took_ms: float = 0.0


class ExportRequest(Inbound):
    """A supplier's orders of one month, one row per order line, for a spreadsheet."""

    supplier: UserId
    month: str = Field(pattern=MONTH_RE)
    after: str | None = Field(default=None, max_length=200)  # paging: the last order id seen
    limit: int = Field(default=500, ge=1, le=2000)
    orders_seq: int | None = Field(default=None, ge=0)  # read-your-writes, as in SearchRequest

    def bounds(self) -> tuple[datetime, datetime]:
        from datetime import timezone

        year, month = (int(p) for p in self.month.split("-"))
        start = datetime(year, month, 1, tzinfo=timezone.utc)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
        return start, end


class ExportRow(Stored):
    order_id: str
    erp_ref: str | None = None
    buyer: str
    supplier: str
    state: str
    currency: str = "CNY"
    created_at: datetime | None = None
    sent_at: datetime | None = None
    read_at: datetime | None = None
    answered_at: datetime | None = None
    # Seconds from the card reaching the supplier to its reading / the supplier's first answer.
    time_to_read_s: float | None = None
    time_to_answer_s: float | None = None
    order_total: Decimal | None = None
    line_id: str = ""
    sku: str = ""
    description: str = ""
    category: str | None = None
    quantity: Decimal | None = None
    unit: str = ""
    unit_price: Decimal | None = None
    line_amount: Decimal | None = None
    line_answer: str | None = None


class ExportReply(Ok):
    supplier: str
    month: str
    rows: list[ExportRow]
    # The last order id of this page when more orders follow (pass it as `after`).
    next_after: str | None = None


def month_is_valid(value: str) -> bool:
    return re.fullmatch(MONTH_RE, value) is not None
