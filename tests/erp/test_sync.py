"""ERP -> chat: a purchase order placed in the ERP reaches the supplier as an order card."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from orderchat.integrations.odoo.mapping import set_partner
from orderchat.schemas.orders import OrderState, order_id_for_ref
from orderchat.schemas.users import PartyRole

from .conftest import call, card_in_inbox, make_po, read_po, wait_for


async def test_sent_po_becomes_card_in_supplier_inbox(erp, connector, client_for) -> None:
    await connector()
    odoo = await call(erp.odoo, "buyer")
    started = time.monotonic()
    po_id = await call(make_po, odoo, [("PEN-GEL05-RED", 200), ("LEAD-05-HB", 50)])
    supplier = await client_for("hongyun-pens")
    card = await card_in_inbox(supplier)
    latency = time.monotonic() - started
    print(f"\nPO -> card in the supplier's inbox by polling (0.2 s): {latency * 1000:.0f} ms")
    assert card.erp_ref == f"erp:demo:{po_id}"
    assert card.order_id == order_id_for_ref(f"erp:demo:{po_id}")
    assert [(line.sku, line.quantity, line.category) for line in card.lines] == [
        ("PEN-GEL05-RED", Decimal(200), "Pens"), ("LEAD-05-HB", Decimal(50), "Pencils & Leads"),
    ]
    assert card.lines[0].unit_price == Decimal("1.2")
    buyer = await client_for("lin")
    order = await buyer.orders.show(card.order_id)
    assert order.supplier == "hongyun-pens" and order.state is OrderState.SENT


async def test_draft_po_is_not_sent_and_repeated_sync_creates_once(erp, connector, client_for) -> None:
    service = await connector()
    odoo = await call(erp.odoo, "buyer")
    draft_id = await call(make_po, odoo, [("GLUE-21G", 10)], "Everything Office Wholesale", False)
    sent_id = await call(make_po, odoo, [("NB-A5-80", 40)], "Sunrise Paper Mill")
    buyer = await client_for("lin")
    sent_order = order_id_for_ref(f"erp:demo:{sent_id}")
    await wait_for(lambda: service.store.link(sent_order))
    # Forget the dedupe memory: every PO in the window is looked at again.
    await service.store.cursors.kv.delete(service.store.cursor_key())
    polls = service.polls
    await wait_for(lambda: service.polls >= polls + 2)
    orders = await buyer.orders.list()
    assert [o.erp_ref for o in orders] == [f"erp:demo:{sent_id}"]
    assert len((await buyer.orders.events(sent_order)).events) == 2  # created, sent: once
    assert await service.store.link(order_id_for_ref(f"erp:demo:{draft_id}")) is None


async def test_po_of_an_unmapped_partner_waits_until_the_partner_is_mapped(erp, connector, client_for, make_user) -> None:
    service = await connector()
    odoo = await call(erp.odoo, "admin")
    partner_id = await call(odoo.env["res.partner"].create, {"name": "Golden Brush Studio", "supplier_rank": 1})
    po_id = await call(make_po, odoo, [("PEN-GEL05-BLK", 25)], "Golden Brush Studio")
    status = await wait_for(lambda: _with_unmapped(service))
    assert status.unmapped_partners == [f"Golden Brush Studio (res.partner {partner_id})"]
    order_id = order_id_for_ref(f"erp:demo:{po_id}")
    assert await service.store.link(order_id) is None
    # The ERP's own user sees why on the PO, once however many polls find it waiting.
    po = await wait_for(lambda: _with_unmapped_note(odoo, po_id))
    await asyncio.sleep(1.0)  # five more polls (every 0.2 s) find it still waiting
    notes = [n["body"] for n in (await call(read_po, odoo, po_id))["notes"] if "not sent to the supplier" in n["body"]]
    assert len(notes) == 1 and f"orderchat erp map {partner_id} SUPPLIER --database demo" in notes[0] and "Golden Brush Studio" in notes[0]
    assert po["state"] == "sent"
    # The supplier joins orderchat under another name; the buyer maps the ERP partner to it.
    await make_user("brush-works", PartyRole.SUPPLIER, company="Brush Works")
    supplier = await client_for("brush-works")
    await supplier.open_session()  # installed the app: from here on, the inbox keeps what comes
    await set_partner(service.store, partner_id, "brush-works")
    card = await card_in_inbox(supplier)
    assert card.order_id == order_id and card.lines[0].sku == "PEN-GEL05-BLK"
    assert (await service.status()).unmapped_partners == []


async def _with_unmapped_note(odoo, po_id: int):
    po = await call(read_po, odoo, po_id)
    return po if any("not sent to the supplier" in n["body"] for n in po["notes"]) else None


async def _with_unmapped(service):
    status = await service.status()
    return status if status.unmapped_partners else None


async def test_po_refused_by_orderchat_is_reported_and_does_not_hold_back_the_others(erp, connector, client_for, make_user) -> None:
    service = await connector()
    odoo = await call(erp.odoo, "admin")
    partner_id = await call(odoo.env["res.partner"].create, {"name": "Ghost Paper", "supplier_rank": 1})
    await set_partner(service.store, partner_id, "ghost-paper")  # mapped to a user orderchat does not have
    ghost_po = await call(make_po, odoo, [("PAP-A4-80", 10)], "Ghost Paper")
    status = await wait_for(lambda: _with_refused(service))
    [why] = status.refused_orders
    assert f"(purchase.order {ghost_po})" in why and "ghost-paper" in why
    # Later purchase orders are not held back behind it.
    other = await call(make_po, odoo, [("NB-A5-80", 10)], "Sunrise Paper Mill")
    card = await card_in_inbox(await client_for("sunrise-paper"))
    assert card.erp_ref == f"erp:demo:{other}"
    # Once the supplier exists, an edit of the PO in the ERP brings it through.
    await make_user("ghost-paper", PartyRole.SUPPLIER, company="Ghost Paper")
    ghost = await client_for("ghost-paper")
    await ghost.open_session()
    line = (await call(odoo.execute_kw, "purchase.order.line", "search", [[["order_id", "=", ghost_po]]]))[0]
    await call(odoo.execute_kw, "purchase.order.line", "write", [[line], {"product_qty": 12}])
    card = await card_in_inbox(ghost)
    assert card.erp_ref == f"erp:demo:{ghost_po}" and card.lines[0].quantity == 12
    assert (await service.status()).refused_orders == []


async def _with_refused(service):
    status = await service.status()
    return status if status.refused_orders else None


async def test_a_po_sent_in_the_second_it_was_seen_as_a_draft_still_reaches_the_supplier(
    tmp_path, admin_nc, tenant, services, parties, client_for
) -> None:
    """write_date has one-second resolution: a PO read as a draft and marked sent within that
    same second keeps its stamp, and a later write to another PO moves the newest second on.
    The connector must still notice the change (content digest, not the stamp)."""
    from datetime import datetime, timedelta, timezone

    from orderchat.integrations.demo_erp import run_in_thread
    from orderchat.integrations.odoo.config import parse_erp_url
    from orderchat.integrations.odoo.service import ErpService
    from orderchat.services.framework.context import ServiceContext

    from .conftest import API_KEYS, PASSWORDS

    now = [datetime(2026, 11, 24, 9, 0, 0, tzinfo=timezone.utc)]
    erp = run_in_thread(str(tmp_path / "erp.sqlite3"), clock=lambda: now[0])
    service = None
    try:
        import odoorpc

        def admin() -> odoorpc.ODOO:
            client = odoorpc.ODOO("127.0.0.1", port=erp.port, timeout=10)
            client.login("demo", "admin", PASSWORDS["admin"])
            return client

        odoo = await call(admin)
        draft = await call(make_po, odoo, [("PAP-A4-80", 30)], "Sunrise Paper Mill", False)
        url = f"odoo://buyer:{API_KEYS['buyer']}@127.0.0.1:{erp.port}/demo"
        service = ErpService(parse_erp_url(url, poll_interval=3600))  # polls once at start, then on demand
        await service.start(ServiceContext(nc=admin_nc, js=admin_nc.jetstream(), options={"tenant": tenant}))
        await wait_for(lambda: service.polls >= 1)
        assert service.syncer is not None
        # The same second: the draft is marked sent (as "Send by email" does).
        await call(odoo.execute_kw, "purchase.order", "message_post", [[draft]], {"body": "RFQ", "context": {"mark_rfq_as_sent": True}})
        # A second later another PO is written, so the newest stamp moves past the draft's.
        now[0] += timedelta(seconds=1)
        await call(make_po, odoo, [("NB-A5-80", 5)], "Sunrise Paper Mill", False)
        await service.syncer.sync_once()
        supplier = await client_for("sunrise-paper")
        card = await card_in_inbox(supplier)
        assert card.erp_ref == f"erp:demo:{draft}"
    finally:
        if service is not None:
            await service.stop()
        erp.stop()
