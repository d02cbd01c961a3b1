"""The happy path end to end: create → card in chat → seen → confirm → ship → receive → close."""

from __future__ import annotations

from orderchat.schemas.orders import OrderState

from .conftest import order_events, pens, wait_for_event


async def test_order_card_seen_confirm_ship_receive_close(parties, admin_nc):
    p = parties
    created = await p.buyer.orders.create("hongyun", pens(), notes="请周五前送到")
    order = created.order
    assert created.event.type == "created"
    assert order.state is OrderState.SENT, order
    assert order.conv is not None and order.card_seq is not None

    page = await p.supplier.history(order.conv)
    card = next(m for m in page.messages if m.body.kind == "order_card")
    assert card.seq == order.card_seq and card.body.card.order_id == order.id
    assert card.body.card.total is not None

    await p.supplier.mark_read(order.conv, order.card_seq)
    seen = await wait_for_event(admin_nc, p.tenant, order.id, "seen")
    assert seen.actor == "hongyun" and seen.card_seq == order.card_seq

    confirmed = await p.supplier.orders.confirm(order.id, "没问题")
    assert confirmed.order.state is OrderState.CONFIRMED
    assert confirmed.event.signature is not None
    shipped = await p.supplier.orders.ship(order.id)
    assert shipped.order.state is OrderState.SHIPPED
    received = await p.buyer.orders.receive(order.id)
    assert received.order.state is OrderState.RECEIVED
    closed = await p.buyer.orders.close_order(order.id)
    assert closed.order.state is OrderState.CLOSED

    types = [e.type for e in await order_events(admin_nc, p.tenant, order.id)]
    assert types == ["created", "sent", "seen", "confirmed", "shipped", "received", "closed"]
    verification = await p.buyer.orders.verify(order.id)
    assert verification.ok and verification.events == 7
    assert [(s.act, s.signer) for s in verification.signatures] == [("place", "lin"), ("confirm", "hongyun")]
