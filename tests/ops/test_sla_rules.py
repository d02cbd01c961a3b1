"""The pure rules that move SLA timers (no server needed): what each order event does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orderchat.schemas.alerts import SlaPolicy
from orderchat.schemas.orders import EventType, OrderEvent, OrderState
from orderchat.services.sla import rules
from orderchat.services.sla.store import OrderParties

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
POLICY = SlaPolicy(read_within_s=3600, answer_within_s=7200)
PARTIES = OrderParties(buyer="lin", supplier="paper")


def event(type_: EventType, state: OrderState, minutes: float, revision: int = 1) -> OrderEvent:
    return OrderEvent(
        order_id="po-1", tenant="shop", n=1, type=type_, actor="paper", ts=T0 + timedelta(minutes=minutes),
        command_id="c", revision=revision, state=state,
    )


def run(*events: OrderEvent) -> rules.Timers:
    timers: rules.Timers = {}
    for e in events:
        rules.apply(timers, e, PARTIES, POLICY)
    return timers


def test_sent_arms_both_deadlines_once():
    timers = run(event(EventType.SENT, OrderState.SENT, 0), event(EventType.SENT, OrderState.SENT, 30))
    assert timers["read"].due == T0 + timedelta(hours=1) and timers["answer"].due == T0 + timedelta(hours=2)
    assert timers["read"].state == timers["answer"].state == "pending"


def test_answer_in_time_meets_both():
    timers = run(event(EventType.SENT, OrderState.SENT, 0), event(EventType.CONFIRMED, OrderState.CONFIRMED, 50))
    assert (timers["read"].state, timers["answer"].state) == ("met", "met")


def test_late_read_is_a_breach_already_made_good():
    timers = run(event(EventType.SENT, OrderState.SENT, 0), event(EventType.SEEN, OrderState.SEEN, 90))
    read = timers["read"]
    assert read.state == "breached" and read.resolved_at == T0 + timedelta(minutes=90) and not read.open_breach
    assert timers["answer"].state == "pending"


def test_amendment_restarts_the_clock_for_the_new_revision():
    timers = run(
        event(EventType.SENT, OrderState.SENT, 0),
        event(EventType.AMENDED, OrderState.SENT, 30, revision=2),
    )
    assert timers["answer"].revision == 2 and timers["answer"].due == T0 + timedelta(minutes=30, hours=2)
    assert timers["answer"].state == "pending"


def test_cancel_withdraws_pending_deadlines():
    timers = run(event(EventType.SENT, OrderState.SENT, 0), event(EventType.CANCELLED, OrderState.CANCELLED, 10))
    assert (timers["read"].state, timers["answer"].state) == ("cancelled", "cancelled")
