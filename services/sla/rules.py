"""How order events move the SLA timers: pure functions, so a batch of events of one order
can be folded in memory and written once (and a redelivered batch changes nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from orderchat.schemas.alerts import SlaPolicy
from orderchat.schemas.orders import EventType, OrderEvent, OrderState

from .store import KINDS, OrderParties, SlaTimer

ANSWERS = frozenset({EventType.CONFIRMED, EventType.CHANGES_PROPOSED, EventType.REJECTED})
WITHDRAWN = frozenset({EventType.AMENDED, EventType.CANCELLED})

Timers = dict[str, SlaTimer | None]


def arm(timers: Timers, event: OrderEvent, parties: OrderParties, policy: SlaPolicy) -> None:
    """A card was delivered: both deadlines start, unless this revision is already timed
    (a redelivered or repeated `sent`)."""
    limits = {"read": policy.read_within_s, "answer": policy.answer_within_s}
    for kind in KINDS:
        current = timers.get(kind)
        if current is not None and current.revision >= event.revision:
            continue
        timers[kind] = SlaTimer(
            tenant=event.tenant, order_id=event.order_id, kind=kind, supplier=parties.supplier, buyer=parties.buyer,
            conv=event.conv, revision=event.revision, sent_at=event.ts,
            due=event.ts + timedelta(seconds=limits[kind]), limit_s=limits[kind],
        )


def settle(timers: Timers, kind: str, at: datetime) -> None:
    """The supplier did what the deadline asked for, at `at`."""
    timer = timers.get(kind)
    if timer is None:
        return
    if timer.state == "pending":
        if at <= timer.due:
            timers[kind] = timer.model_copy(update={"state": "met", "settled_at": at})
        else:
            # Late, and no service noticed in time (it was down): still a breach, on record
            # and alerted, already made good.
            timers[kind] = timer.model_copy(update={"state": "breached", "breached_at": timer.due, "resolved_at": at})
    elif timer.state == "breached" and timer.resolved_at is None:
        timers[kind] = timer.model_copy(update={"resolved_at": at})


def withdraw(timers: Timers, at: datetime) -> None:
    for kind in KINDS:
        timer = timers.get(kind)
        if timer is not None and timer.state == "pending":
            timers[kind] = timer.model_copy(update={"state": "cancelled", "settled_at": at})


def starts_clock(event: OrderEvent) -> bool:
    """A card the supplier must read and answer is (again) in front of them: the first
    `sent`, or an amendment that leaves the order waiting for the supplier (the orders
    service updates the card in place; no new `sent` follows)."""
    return event.type is EventType.SENT or (event.type is EventType.AMENDED and event.state is OrderState.SENT)


def apply(timers: Timers, event: OrderEvent, parties: OrderParties | None, policy: SlaPolicy | None) -> None:
    if starts_clock(event):
        if event.type is EventType.AMENDED:
            withdraw(timers, event.ts)
        if parties is not None and policy is not None:
            arm(timers, event, parties, policy)
    elif event.type is EventType.SEEN:
        settle(timers, "read", event.ts)
    elif event.type in ANSWERS:
        settle(timers, "read", event.ts)
        settle(timers, "answer", event.ts)
    elif event.type in WITHDRAWN:
        withdraw(timers, event.ts)


def parties_of(event: OrderEvent) -> OrderParties | None:
    if event.terms is None:
        return None
    return OrderParties(buyer=event.terms.buyer, supplier=event.terms.supplier)
