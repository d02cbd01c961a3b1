"""ERP -> chat: a purchase order placed in the ERP reaches the supplier as an order card."""

from __future__ import annotations

import time
from decimal import Decimal

from orderchat.schemas.orders import OrderState, order_id_for_ref

from .conftest import call, card_in_inbox, make_po, wait_for


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
