"""What an order looks like inside a chat: the card and the short notices that follow it.

The orders service owns orders (schemas.orders); these are the views it posts into the
buyer–supplier conversation, so a chat client can render them without another request."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .base import Stored


class CardLine(Stored):
    line_id: str
    sku: str
    description: str
    category: str | None = None
    quantity: Decimal
    unit: str = "pcs"
    unit_price: Decimal | None = None
    requested_date: date | None = None
    answer: str | None = None  # the supplier's latest per-line answer, if any


class OrderCardView(Stored):
    order_id: str
    erp_ref: str | None = None
    revision: int
    state: str
    buyer: str
    supplier: str
    currency: str = "CNY"
    lines: tuple[CardLine, ...] = ()
    total: Decimal | None = None
    notes: str | None = None
    # Lines added, removed or changed against the previous revision (amendments).
    changed_lines: tuple[str, ...] = ()
