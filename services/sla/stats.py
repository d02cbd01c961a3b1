"""Per-supplier response figures for a period, computed by replaying the order events of
stream ORDERS (from the period's start, so a month costs a month of events).

An order counts for the period in which it was created. Times run from the first delivery
of the card (`sent`) to the first `seen` (read) and to the first answer (confirmed, changes
proposed or rejected); the change and reject rates are over answered orders, by their first
answer. Amounts are the totals of each order's latest terms, per currency."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError

from orderchat.schemas import names
from orderchat.schemas.orders import EventType, OrderEvent
from orderchat.services.monitor.stream_reader import read_matching

from .rules import ANSWERS

MAX_EVENTS = 2_000_000


@dataclass
class OrderFacts:
    supplier: str
    created: datetime
    currency: str
    amount: Decimal | None = None
    sent: datetime | None = None
    seen: datetime | None = None
    answered: datetime | None = None
    first_answer: EventType | None = None
    events: list[EventType] = field(default_factory=list)


class SupplierStats(BaseModel):
    supplier: str
    orders: int
    amount: dict[str, Decimal]
    answered: int
    read_median_s: float | None
    read_p90_s: float | None
    answer_median_s: float | None
    answer_p90_s: float | None
    change_rate: float | None
    reject_rate: float | None


def month_bounds(month: str | None) -> tuple[datetime | None, datetime | None]:
    """`YYYY-MM` -> [start, end) in UTC; None -> all time."""
    if month is None:
        return None, None
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def fold(events: list[OrderEvent]) -> dict[tuple[str, str], OrderFacts]:
    orders: dict[tuple[str, str], OrderFacts] = {}
    for e in events:
        key = (e.tenant, e.order_id)
        facts = orders.get(key)
        if e.type is EventType.CREATED and e.terms is not None and facts is None:
            facts = orders[key] = OrderFacts(supplier=e.terms.supplier, created=e.ts, currency=e.terms.currency)
        if facts is None:
            continue  # created before the period: counted in its own
        facts.events.append(e.type)
        if e.terms is not None:
            facts.amount = e.terms.total()
            facts.currency = e.terms.currency
        if e.type is EventType.SENT and facts.sent is None:
            facts.sent = e.ts
        elif e.type is EventType.SEEN and facts.seen is None:
            facts.seen = e.ts
        if e.type in ANSWERS and facts.answered is None:
            facts.answered, facts.first_answer = e.ts, e.type
            facts.seen = facts.seen or e.ts  # answering implies reading
    return orders


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def summarize(orders: dict[tuple[str, str], OrderFacts], start: datetime | None, end: datetime | None) -> list[SupplierStats]:
    by_supplier: dict[str, list[OrderFacts]] = defaultdict(list)
    for facts in orders.values():
        if (start is None or facts.created >= start) and (end is None or facts.created < end):
            by_supplier[facts.supplier].append(facts)
    result = []
    for supplier, facts in sorted(by_supplier.items()):
        amount: dict[str, Decimal] = defaultdict(Decimal)
        for f in facts:
            if f.amount is not None:
                amount[f.currency] += f.amount
        reads = [(f.seen - f.sent).total_seconds() for f in facts if f.sent and f.seen]
        answers = [(f.answered - f.sent).total_seconds() for f in facts if f.sent and f.answered]
        answered = [f for f in facts if f.first_answer is not None]
        read_med, read_p90 = _quantiles(reads)
        ans_med, ans_p90 = _quantiles(answers)
        result.append(
            SupplierStats(
                supplier=supplier, orders=len(facts), amount=dict(amount), answered=len(answered),
                read_median_s=read_med, read_p90_s=read_p90, answer_median_s=ans_med, answer_p90_s=ans_p90,
                change_rate=(sum(f.first_answer is EventType.CHANGES_PROPOSED for f in answered) / len(answered)) if answered else None,
                reject_rate=(sum(f.first_answer is EventType.REJECTED for f in answered) / len(answered)) if answered else None,
            )
        )
    return result


async def supplier_stats(js: JetStreamContext, tenant: str, month: str | None = None) -> list[SupplierStats]:
    start, end = month_bounds(month)
    msgs = await read_matching(
        js, names.STREAM_ORDERS, names.order_events(tenant, names.ANY), start_time=start, limit=MAX_EVENTS
    )
    events = []
    for m in msgs:
        try:
            events.append(OrderEvent.model_validate_json(m.data))
        except ValidationError:
            continue  # not an order event; the SLA service parks such messages in the DLQ
    return summarize(fold(events), start, end)
