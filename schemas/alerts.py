"""Operational alerts (stream ALERTS, subject oc.<t>.alert.<kind>) and the SLA settings they
are measured against."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Stored
from .ids import OrderId, UserId

SLA_BREACH = "sla_breach"
SlaKind = Literal["read", "answer"]


class SlaPolicy(Stored):
    """How long a supplier may take: to read an order card (`seen`) and to answer it
    (confirm, propose changes or reject), counted from the moment the card was delivered."""

    read_within_s: float = Field(default=4 * 3600, gt=0)
    answer_within_s: float = Field(default=24 * 3600, gt=0)


class SlaBreachAlert(Stored):
    """Published once per breach: a supplier did not read / answer an order card in time."""

    type: Literal["sla_breach"] = "sla_breach"
    tenant: str
    order_id: OrderId
    kind: SlaKind
    supplier: UserId
    buyer: UserId
    revision: int
    sent_at: datetime
    due: datetime
    breached_at: datetime
    limit_s: float
