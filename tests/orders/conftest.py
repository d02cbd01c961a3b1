"""Orders fixtures: a buyer and a supplier with signing keys, their clients, and helpers to
wait for order events (read from stream ORDERS, not by sleeping)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal

import nats
import pytest

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.schemas.orders import Order, OrderEvent, OrderLine
from orderchat.schemas.users import PartyRole
from orderchat.services.orders import signing


@dataclass
class Parties:
    tenant: str
    buyer: OrderchatClient
    supplier: OrderchatClient
    buyer_seed: bytes
    supplier_seed: bytes


@pytest.fixture
async def parties(make_user, client_for, tenant) -> Parties:
    """`lin` (buyer) and `hongyun` (supplier), each with a registered key and signing client."""
    buyer_seed, supplier_seed = signing.new_seed(), signing.new_seed()
    await make_user("lin", PartyRole.BUYER, public_key=signing.public_key_of(buyer_seed), company="Inkwell Stationery")
    await make_user("hongyun", PartyRole.SUPPLIER, public_key=signing.public_key_of(supplier_seed), company="Hongyun Pen Co.")
    buyer, supplier = await client_for("lin"), await client_for("hongyun")
    buyer.orders.use_seed(buyer_seed)
    supplier.orders.use_seed(supplier_seed)
    return Parties(tenant, buyer, supplier, buyer_seed, supplier_seed)


def pens() -> list[OrderLine]:
    return [
        OrderLine(line_id="1", sku="PEN-RED", description="红色中性笔 0.5mm", category="Pens", quantity=Decimal("200"), unit="pcs", unit_price=Decimal("1.20")),
        OrderLine(line_id="2", sku="PEN-BLK", description="黑色中性笔 0.5mm", category="Pens", quantity=Decimal("300"), unit="pcs", unit_price=Decimal("1.10")),
        OrderLine(line_id="3", sku="LEAD-HB", description="HB 铅芯 12支装", category="Pencils & Leads", quantity=Decimal("50"), unit="box", unit_price=Decimal("3.50")),
        OrderLine(line_id="4", sku="ERASER", description="橡皮擦", quantity=Decimal("100"), unit="pcs", unit_price=Decimal("0.80")),
    ]


async def order_events(nc: nats.NATS, tenant: str, order_id: str) -> list[OrderEvent]:
    js = nc.jetstream()
    found = []
    seq = 1
    subject = names.order_events(tenant, order_id)
    while True:
        try:
            msg = await js.get_msg(names.STREAM_ORDERS, seq=seq, subject=subject, next=True, direct=True)
        except nats.js.errors.NotFoundError:
            return found
        found.append(OrderEvent.model_validate_json(msg.data))
        seq = int(msg.seq) + 1


async def wait_for_event(nc: nats.NATS, tenant: str, order_id: str, event_type: str, timeout: float = 15.0) -> OrderEvent:
    """The order's first event of `event_type`, waiting for it on an ordered consumer."""
    js = nc.jetstream()
    sub = await js.subscribe(names.order_events(tenant, order_id), ordered_consumer=True)
    try:
        async def first() -> OrderEvent:
            while True:
                msg = await sub.next_msg(timeout=timeout)
                event = OrderEvent.model_validate_json(msg.data)
                if event.type == event_type:
                    return event

        return await asyncio.wait_for(first(), timeout)
    finally:
        await sub.unsubscribe()


async def snapshot(admin_nc: nats.NATS, tenant: str, order_id: str) -> tuple[bytes | None, int]:
    """The KV projection bytes and the number of events: what 'nothing changed' compares."""
    kv = await admin_nc.jetstream().key_value(names.KV_ORDERS)
    try:
        entry = await kv.get(names.kv_key(tenant, order_id))
        value = entry.value
    except nats.js.errors.KeyNotFoundError:
        value = None
    return value, len(await order_events(admin_nc, tenant, order_id))


def order_json(order: Order) -> dict:
    return json.loads(order.model_dump_json())


async def order_in(p: Parties, admin_nc: nats.NATS, state: str) -> Order:
    """A fresh order of the parties, brought into `state` through real commands."""
    from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange

    if state == "draft":
        return (await p.buyer.orders.create("hongyun", pens(), send=False)).order
    order = (await p.buyer.orders.create("hongyun", pens())).order
    if state == "sent":
        return order
    if state == "seen":
        await p.supplier.mark_read(order.conv, order.card_seq)
        await wait_for_event(admin_nc, p.tenant, order.id, "seen")
        return await p.buyer.orders.show(order.id)
    if state == "changes_proposed":
        answers = [
            LineAnswer(line_id="1", answer=LineAnswerCode.ACCEPTED),
            LineAnswer(line_id="2", answer=LineAnswerCode.ACCEPTED_WITH_CHANGES, change=LineChange(quantity=Decimal("250"))),
            LineAnswer(line_id="3", answer=LineAnswerCode.BACKORDERED),
            LineAnswer(line_id="4", answer=LineAnswerCode.REJECTED),
        ]
        return (await p.supplier.orders.propose(order.id, answers)).order
    if state == "rejected":
        return (await p.supplier.orders.reject(order.id, "停产了")).order
    if state == "cancelled":
        return (await p.buyer.orders.cancel(order.id, "不需要了")).order
    order = (await p.supplier.orders.confirm(order.id)).order
    for step, target in (("ship", "shipped"), ("receive", "received"), ("close", "closed")):
        if order.state == state:
            break
        client = p.supplier if step == "ship" else p.buyer
        order = (await getattr(client.orders, "close_order" if step == "close" else step)(order.id)).order
    assert order.state == state, order.state
    return order
