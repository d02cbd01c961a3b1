"""Every subject an order flow touches is in the channel catalog (and so in AsyncAPI)."""

from __future__ import annotations

import asyncio

from orderchat.schemas.catalog import CHANNELS, channel_for, subject_matches

from .conftest import order_in, wait_for_event


async def test_order_subjects_are_all_in_the_catalog(parties, admin_nc, nats_server):
    seen: set[str] = set()

    async def tap(msg):
        seen.add(msg.subject)

    sub = await admin_nc.subscribe("oc.>", cb=tap)
    p = parties
    order = await order_in(p, admin_nc, "changes_proposed")
    await p.buyer.orders.accept_changes(order.id)
    await p.supplier.orders.ship(order.id)
    await p.buyer.orders.list()
    await p.buyer.orders.events(order.id)
    await wait_for_event(admin_nc, p.tenant, order.id, "shipped")
    await admin_nc.flush()
    while sub.pending_msgs:  # let the tap handle what the server already sent it
        await asyncio.sleep(0.01)
    await sub.unsubscribe()

    order_subjects = {s for s in seen if ".order." in s or ".svc." in s}
    assert any(s.endswith(".order.accept_changes") for s in order_subjects)
    assert any(s.endswith(".evt") for s in order_subjects)
    assert sorted(s for s in seen if channel_for(s) is None) == []

    subscriptions = {
        subject
        for c in nats_server.monitor("connz?subs=1&limit=10000")["connections"]
        if c.get("name", "").startswith("orderchat-") and "orders" in c["name"]
        for subject in c.get("subscriptions_list", [])
        if subject.startswith("oc.") and ".order." in subject
    }
    assert "oc.*.in.*.order.confirm" in subscriptions
    wildcards = [c.wildcard for c in CHANNELS]
    assert sorted(s for s in subscriptions if not any(subject_matches(w, s) for w in wildcards)) == []
