"""Supplier response SLAs against a real nats-server: a breach fires once and only once,
across restarts of the SLA service and with two instances; an answer in time raises nothing."""

from __future__ import annotations

import asyncio

from orderchat.schemas import names
from orderchat.schemas.alerts import SLA_BREACH, SlaBreachAlert, SlaPolicy
from orderchat.schemas.chat import ChatMessage
from orderchat.schemas.ids import direct_conv_id
from orderchat.schemas.orders import EventType, OrderState
from orderchat.services.monitor.stream_reader import read_matching
from orderchat.services.sla.store import SlaStore, timer_key

from .cli import orderchat_json
from .conftest import OrderLog, add_parties, eventually


async def alerts_for(js, tenant: str, order_id: str) -> list[SlaBreachAlert]:
    msgs = await read_matching(js, names.STREAM_ALERTS, names.alert(tenant, SLA_BREACH))
    alerts = [SlaBreachAlert.model_validate_json(m.data) for m in msgs]
    return [a for a in alerts if a.order_id == order_id]


async def notices_in(js, tenant: str, conv: str) -> list[ChatMessage]:
    msgs = await read_matching(js, names.STREAM_CHAT, names.conv(tenant, conv))
    found = [ChatMessage.model_validate_json(m.data) for m in msgs]
    return [m for m in found if m.body.kind == "notice"]


async def timer_state(store: SlaStore, tenant: str, order_id: str, kind: str) -> str | None:
    got = await store.timers.get(timer_key(tenant, order_id, kind))
    return got[0].state if got else None


async def test_breach_fires_once_across_restarts(ops_server, ops_nc, start_host, tenant):
    js = ops_nc.jetstream()
    await add_parties(js, tenant)
    await start_host("delivery")
    store = await SlaStore.open(js)
    await store.set_policy(tenant, "paper", SlaPolicy(read_within_s=1.5, answer_within_s=3600))
    sla = await start_host("sla")
    order = OrderLog(js, tenant, "po-1")
    await order.created_and_sent()
    await eventually(lambda: timer_state(store, tenant, "po-1", "read"))

    # The only SLA instance goes down before the deadline and comes back after it.
    await sla.stop()
    await asyncio.sleep(2.0)
    assert await timer_state(store, tenant, "po-1", "read") == "pending"
    await start_host("sla")
    alerts = await eventually(lambda: alerts_for(js, tenant, "po-1"))
    # The alert goes out first, the chat notice next; the timer says so once both are out.
    timer = await eventually(lambda: _notified(store, tenant, "po-1", "read"))
    assert timer.state == "breached" and timer.notified
    assert [(a.kind, a.supplier, a.buyer) for a in alerts] == [("read", "paper", "lin")]

    # Two more instances (one a restart) see the breached timer: nobody fires it again.
    second = await start_host("sla")
    third = await start_host("sla")
    for host in (second, third):
        await asyncio.wait_for(host.services[0].deadlines.caught_up.wait(), 10)
    await asyncio.sleep(0.5)
    assert len(await alerts_for(js, tenant, "po-1")) == 1
    notices = await notices_in(js, tenant, direct_conv_id("lin", "paper"))
    assert len(notices) == 1
    assert notices[0].sender == "system" and notices[0].body.code == SLA_BREACH and "has not read order po-1" in notices[0].body.text

    # The monitor lists the open breach.
    snap = await orderchat_json("--nats-url", ops_server.url, "monitor", "--json", "--monitor-url", ops_server.monitor_url, "--window", "0", "--tenant", tenant)
    assert snap["sla"]["open_breaches"] == 1
    assert snap["sla"]["breaches"][0] | {"due": None, "breached_at": None} == snap["sla"]["breaches"][0] | {
        "order_id": "po-1", "kind": "read", "supplier": "paper", "due": None, "breached_at": None,
    }

    # The supplier reads late: the breach is resolved, not fired again.
    await order.emit(EventType.SEEN, OrderState.SEEN, actor="paper")
    resolved = await eventually(lambda: _resolved(store, tenant, "po-1", "read"))
    assert resolved.state == "breached"
    assert len(await alerts_for(js, tenant, "po-1")) == 1
    from orderchat.services.sla.store import open_breaches

    assert [b.order_id for b in await open_breaches(js, tenant)] == []


async def _notified(store, tenant, order_id, kind):
    got = await store.timers.get(timer_key(tenant, order_id, kind))
    return got[0] if got and got[0].notified else None


async def _resolved(store, tenant, order_id, kind):
    got = await store.timers.get(timer_key(tenant, order_id, kind))
    return got[0] if got and got[0].resolved_at else None


async def test_no_alert_when_the_supplier_answers_in_time(ops_nc, start_host, tenant):
    js = ops_nc.jetstream()
    await add_parties(js, tenant)
    await start_host("delivery")
    store = await SlaStore.open(js)
    await store.set_policy(tenant, None, SlaPolicy(read_within_s=2.0, answer_within_s=2.5))
    await start_host("sla")
    order = OrderLog(js, tenant, "po-2")
    await order.created_and_sent()
    await eventually(lambda: timer_state(store, tenant, "po-2", "answer"))
    await order.emit(EventType.SEEN, OrderState.SEEN, actor="paper")
    await order.emit(EventType.CONFIRMED, OrderState.CONFIRMED, actor="paper")

    async def both_met() -> bool:
        return [await timer_state(store, tenant, "po-2", k) for k in ("read", "answer")] == ["met", "met"]

    await eventually(both_met)
    await asyncio.sleep(2.6)  # past both deadlines
    assert await both_met()
    assert await alerts_for(js, tenant, "po-2") == []
    assert await notices_in(js, tenant, direct_conv_id("lin", "paper")) == []


async def test_with_the_orders_service_end_to_end(ops_server, ops_nc, start_host, tenant):
    """Real orders: an order confirmed in time raises nothing; an order left unanswered
    breaches both deadlines, once each, with notices in the order's conversation."""
    from decimal import Decimal

    from orderchat.client import OrderchatClient
    from orderchat.runtime.users import upsert_user
    from orderchat.schemas.orders import OrderLine
    from orderchat.schemas.users import PartyRole, User
    from orderchat.services.orders import signing

    js = ops_nc.jetstream()
    seeds = {"lin": signing.new_seed(), "paper": signing.new_seed()}
    for user, role in (("lin", PartyRole.BUYER), ("paper", PartyRole.SUPPLIER)):
        await upsert_user(js, tenant, User(id=user, display_name=user, role=role, public_key=signing.public_key_of(seeds[user])))
    store = await SlaStore.open(js)
    await store.set_policy(tenant, "paper", SlaPolicy(read_within_s=2.0, answer_within_s=2.5))
    await start_host("delivery", "receipts", "orders", "sla")
    buyer = await OrderchatClient.connect(ops_server.url, "lin", tenant=tenant)
    supplier = await OrderchatClient.connect(ops_server.url, "paper", tenant=tenant)
    buyer.orders.use_seed(seeds["lin"])
    supplier.orders.use_seed(seeds["paper"])
    line = OrderLine(line_id="1", sku="PEN-RED", description="Red gel pen", quantity=Decimal(10), unit_price=Decimal("1.2"))
    try:
        answered = (await buyer.orders.create("paper", [line])).order
        ignored = (await buyer.orders.create("paper", [line])).order
        await eventually(lambda: timer_state(store, tenant, answered.id, "answer"))
        await supplier.orders.confirm(answered.id)
        await eventually(lambda: timer_state(store, tenant, ignored.id, "answer"))

        async def both_alerts():
            found = await alerts_for(js, tenant, ignored.id)
            return found if len(found) == 2 else None

        alerts = await eventually(both_alerts)
        assert sorted(a.kind for a in alerts) == ["answer", "read"]
        assert [await timer_state(store, tenant, answered.id, k) for k in ("read", "answer")] == ["met", "met"]
        assert await alerts_for(js, tenant, answered.id) == []
        conv = ignored.conv or (await buyer.orders.show(ignored.id)).conv
        notices = [n for n in await notices_in(js, tenant, conv) if n.body.order_id == ignored.id]
        assert sorted(n.body.data["kind"] for n in notices) == ["answer", "read"]
    finally:
        await buyer.close()
        await supplier.close()
