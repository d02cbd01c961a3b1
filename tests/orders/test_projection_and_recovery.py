"""The KV projection is a cache of the log; the reactor repairs what a crash left undone;
`seen` survives a restart of its watchers without being recorded twice."""

from __future__ import annotations

import asyncio

from orderchat.schemas import names
from orderchat.schemas.orders import CreateOrder, OrderState
from orderchat.services.orders import state_machine
from orderchat.services.orders.seen import PendingCard, PendingCards

from .conftest import order_events, order_in, pens, wait_for_event


def orders_service(services):
    return next(s for s in services.services if s.name == "orders")


async def test_the_projection_is_rebuilt_from_the_events(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "confirmed")
    kv = await admin_nc.jetstream().key_value(names.KV_ORDERS)
    await kv.delete(names.kv_key(p.tenant, order.id))
    rebuilt = await p.buyer.orders.show(order.id)
    assert rebuilt == order
    assert await p.buyer.orders.show(order.id, rebuild=True) == order
    assert (await kv.get(names.kv_key(p.tenant, order.id))).value is not None  # written back


async def test_the_reactor_posts_the_card_a_crash_left_out(parties, admin_nc, services):
    """An order whose `created` event was stored but whose card never went out (the service
    died in between) still reaches the supplier."""
    p = parties
    service = orders_service(services)
    command = CreateOrder(command_id="crashed", order_id="o-crashed", supplier="hongyun", lines=tuple(pens()))
    draft = state_machine.decide_create(p.tenant, "o-crashed", command, "lin", None)
    order, _ = await service.commands.append(p.tenant, "o-crashed", None, draft, f"{p.tenant}:lin:crashed")
    assert order.state is OrderState.DRAFT  # appended, no reaction
    sent = await wait_for_event(admin_nc, p.tenant, "o-crashed", "sent", timeout=45)
    page = await p.supplier.history(sent.conv)
    assert [m.body.card.order_id for m in page.messages if m.body.kind == "order_card"] == ["o-crashed"]
    assert (await p.buyer.orders.show("o-crashed")).state is OrderState.SENT


async def test_seen_is_recorded_once_across_watcher_restarts(parties, admin_nc, services):
    p = parties
    service = orders_service(services)
    order = await order_in(p, admin_nc, "sent")
    outcomes: asyncio.Queue[bool] = asyncio.Queue()

    async def on_read(tenant: str, order_id: str, reader: str, up_to: int) -> bool:
        seen = await service.commands.mark_seen(tenant, order_id, reader, up_to)
        outcomes.put_nowait(seen)
        return seen

    async def restart() -> bool:
        """A fresh watcher pair, as after a restart: it replays the current cursors."""
        restarted = PendingCards(admin_nc.jetstream())
        await restarted.start(on_read)
        try:
            return await asyncio.wait_for(outcomes.get(), 15)
        finally:
            await restarted.stop()

    await service.pending.stop()  # the service is down ...
    try:
        await p.supplier.mark_read(order.conv, order.card_seq)  # ... while the supplier reads the card
        assert await restart() is True
        # A crash after recording `seen` but before forgetting the card: the next start
        # finds both the card and the cursor again, and records nothing new.
        waiting = PendingCard(order_id=order.id, revision=order.revision, card_seq=order.card_seq, supplier="hongyun")
        kv = await admin_nc.jetstream().key_value(names.KV_ORDER_CARDS)
        await kv.put(names.kv_key(p.tenant, order.conv, order.id), waiting.model_dump_json().encode())
        assert await restart() is False
    finally:
        await service.pending.start(service.commands.mark_seen)
    # Concurrent duplicates of the read receipt change nothing either.
    results = await asyncio.gather(*(service.commands.mark_seen(p.tenant, order.id, "hongyun", order.card_seq) for _ in range(3)))
    assert results == [False, False, False]
    types = [e.type for e in await order_events(admin_nc, p.tenant, order.id)]
    assert types == ["created", "sent", "seen"]
    assert (await p.buyer.orders.show(order.id)).state is OrderState.SEEN


async def test_a_read_before_the_card_is_not_seen(parties, admin_nc):
    p = parties
    first = await order_in(p, admin_nc, "sent")
    await p.supplier.mark_read(first.conv, first.card_seq)
    await wait_for_event(admin_nc, p.tenant, first.id, "seen")
    second = (await p.buyer.orders.create("hongyun", pens())).order  # its card comes later in the same chat
    assert second.card_seq > first.card_seq
    await p.buyer.mark_read(second.conv, second.card_seq)  # the buyer reading is not the supplier seeing
    await p.supplier.send("收到", conv=second.conv)
    assert (await p.buyer.orders.show(second.id)).state is OrderState.SENT
    await p.supplier.mark_read(second.conv)
    await wait_for_event(admin_nc, p.tenant, second.id, "seen")


async def test_concurrent_read_receipts_record_seen_once(parties, admin_nc, services):
    p = parties
    service = orders_service(services)
    order = await order_in(p, admin_nc, "sent")
    results = await asyncio.gather(*(service.commands.mark_seen(p.tenant, order.id, "hongyun", order.card_seq) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert [e.type for e in await order_events(admin_nc, p.tenant, order.id)] == ["created", "sent", "seen"]
