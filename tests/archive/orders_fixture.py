"""Order event logs written to stream ORDERS the way the orders service writes them
(schemas.orders.OrderEvent on oc.<t>.order.<order>.evt, one subject per order), with times
chosen by the test so that the export's "time to read / to answer" are known."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.orders import (
    EventType,
    LineAnswer,
    LineAnswerCode,
    OrderEvent,
    OrderLine,
    OrderState,
    OrderTerms,
)

Line = tuple[str, str, str]  # line id, description, category


async def publish_order(
    js: JetStreamContext,
    tenant: str,
    order_id: str,
    supplier: str,
    lines: list[Line],
    *,
    buyer: str = "lin",
    created: datetime | None = None,
    read_after: timedelta | None = timedelta(minutes=10),
    answer_after: timedelta | None = timedelta(minutes=70),
    price: Decimal = Decimal("12.50"),
) -> int:
    """created -> sent (1 minute later) -> seen -> confirmed; returns the last stream sequence."""
    t0 = created or datetime.now(timezone.utc).replace(microsecond=0)
    terms = OrderTerms(
        order_id=order_id, erp_ref=f"P{order_id[-4:]}", buyer=buyer, supplier=supplier, currency="CNY",
        lines=tuple(
            OrderLine(line_id=lid, sku=f"SKU-{lid}", description=text, category=cat, quantity=Decimal(10), unit="box", unit_price=price)
            for lid, text, cat in lines
        ),
    )
    sent_at = t0 + timedelta(minutes=1)
    events = [
        dict(type=EventType.CREATED, actor=buyer, ts=t0, state=OrderState.DRAFT, terms=terms),
        dict(type=EventType.SENT, actor=buyer, ts=sent_at, state=OrderState.SENT, conv=f"dm_{buyer}_{supplier}", card_seq=1),
    ]
    if read_after is not None:
        events.append(dict(type=EventType.SEEN, actor=supplier, ts=sent_at + read_after, state=OrderState.SEEN))
    if answer_after is not None:
        events.append(
            dict(
                type=EventType.CONFIRMED, actor=supplier, ts=sent_at + answer_after, state=OrderState.CONFIRMED,
                answers=tuple(LineAnswer(line_id=lid, answer=LineAnswerCode.ACCEPTED) for lid, _, _ in lines),
            )
        )
    last = 0
    for n, fields in enumerate(events, start=1):
        event = OrderEvent(order_id=order_id, tenant=tenant, n=n, command_id=f"c{n}", revision=1, **fields)  # type: ignore[arg-type]
        ack = await js.publish(
            names.order_events(tenant, order_id), event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{tenant}:{order_id}:{n}"},
        )
        last = ack.seq
    return last
