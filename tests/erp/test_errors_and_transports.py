"""Odoo refusals become order events the buyer sees (the connector keeps going), JSON-2
transport, and the webhook as a hint to poll now."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from orderchat.integrations.odoo.config import parse_erp_url
from orderchat.integrations.odoo.errors import OdooError
from orderchat.integrations.odoo.transport import open_transport
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange

from .conftest import buyer_event, call, card_in_inbox, make_po, read_po, wait_for
from .proxy import ErpProxy


async def test_qty_below_received_is_a_user_error_event_for_the_buyer(erp, connector, client_for) -> None:
    await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("NB-A5-80", 100)], "Sunrise Paper Mill")
    supplier, buyer = await client_for("sunrise-paper"), await client_for("lin")
    card = await card_in_inbox(supplier)
    line_id = int(card.lines[0].line_id[1:])
    await call(odoo.execute_kw, "purchase.order.line", "write", [[line_id], {"qty_received": 60}])
    change = LineChange(quantity=Decimal(40))
    await supplier.orders.propose(card.order_id, [LineAnswer(line_id=card.lines[0].line_id, answer=LineAnswerCode.ACCEPTED_WITH_CHANGES, change=change)])
    await buyer.orders.accept_changes(card.order_id)
    event = await buyer_event(buyer, "erp_error")
    assert event.data["error"] == "UserError" and "below the received quantity" in event.data["message"]
    po = await call(read_po, odoo, po_id)
    assert po["lines"][0]["product_qty"] == 100.0 and po["state"] == "sent"  # nothing half-written
    # The connector keeps serving: the next PO still becomes a card.
    await call(make_po, odoo, [("PAP-A4-80", 5)], "Sunrise Paper Mill")
    assert (await card_in_inbox(supplier, revision=1)).lines


async def test_access_error_and_missing_error_reach_the_buyer(erp, connector, client_for) -> None:
    await connector(login="viewer")  # may read purchases, may not confirm them
    odoo = await call(erp.odoo, "admin")
    await call(make_po, odoo, [("GLUE-21G", 12)], "Everything Office Wholesale")
    supplier, buyer = await client_for("everything-office"), await client_for("lin")
    card = await card_in_inbox(supplier)
    await supplier.orders.confirm(card.order_id)
    event = await buyer_event(buyer, "erp_error")
    assert event.data["error"] == "AccessError"
    gone_id = await call(make_po, odoo, [("FLD-A4-CLR", 3)], "Everything Office Wholesale")
    gone = await card_in_inbox(supplier, revision=1)
    while gone.erp_ref != f"erp:demo:{gone_id}":
        gone = await card_in_inbox(supplier, revision=1)
    await call(odoo.execute_kw, "purchase.order", "button_cancel", [[gone_id]])
    await call(odoo.execute_kw, "purchase.order", "unlink", [[gone_id]])
    await supplier.orders.confirm(gone.order_id)
    missing = await buyer_event(buyer, "erp_error", order_id=gone.order_id)
    assert missing.data["error"] == "MissingError"


async def test_json2_transport_and_webhook_hint(erp, connector, client_for) -> None:
    service = await connector(poll=3600, webhook=True, transport="json2")  # polling only at start
    assert service.webhook is not None
    await wait_for(lambda: service.polls >= 1)
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("PEN-GEL05-BLK", 30)])
    supplier = await client_for("hongyun-pens")
    async with aiohttp.ClientSession() as http:
        async with http.post(service.webhook.url, data=b"{not json") as bad:
            assert bad.status == 400
        started = time.monotonic()
        async with http.post(service.webhook.url, json={"_action": "Send Webhook Notification(#1)", "_id": po_id, "_model": "purchase.order"}) as ok:
            assert ok.status == 202
    card = await card_in_inbox(supplier)
    print(f"\nwebhook hint -> card in the supplier's inbox: {(time.monotonic() - started) * 1000:.0f} ms")
    assert card.erp_ref == f"erp:demo:{po_id}" and service.transports[0].kind == "json2"
    await supplier.orders.confirm(card.order_id)
    po = await wait_for(lambda: _purchase(odoo, po_id), timeout=15)
    assert any("orderchat" in n["body"] for n in po["notes"])


class GatedProxy(ErpProxy):
    """Holds the JSON-2 read of one purchase order until released (an ERP slow to answer for
    that order)."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.held_po: int | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def intercept(self, request: web.Request, body: bytes) -> web.Response | None:
        if request.path == "/json/2/purchase.order/search_read" and json.loads(body).get("domain") == [["id", "in", [self.held_po]]]:
            self.holding.set()
            await self.release.wait()
        return None

    async def stop(self) -> None:
        self.release.set()
        await super().stop()


async def test_a_hinted_po_does_not_wait_for_another_hinted_pos_sync(erp, connector, client_for) -> None:
    proxy = GatedProxy(erp.port)
    service = await connector(poll=3600, webhook=True, transport="json2", port=await proxy.start())  # polling only at start
    try:
        await wait_for(lambda: service.polls >= 1)
        odoo = await call(erp.odoo, "admin")
        slow_id = await call(make_po, odoo, [("PEN-GEL05-BLK", 10)])
        quick_id = await call(make_po, odoo, [("PEN-GEL05-RED", 20)])
        supplier = await client_for("hongyun-pens")
        proxy.held_po = slow_id
        service.hint("purchase.order", slow_id)
        await asyncio.wait_for(proxy.holding.wait(), 10)
        service.hint("purchase.order", quick_id)
        # Well before the held read would time out (10 s) and let a one-at-a-time loop go on.
        card = await card_in_inbox(supplier, timeout=5)
        assert card.erp_ref == f"erp:demo:{quick_id}" and not proxy.release.is_set()
        proxy.release.set()
        assert (await card_in_inbox(supplier)).erp_ref == f"erp:demo:{slow_id}"
    finally:
        await service.stop()
        await proxy.stop()


async def _purchase(odoo, po_id: int):
    po = await call(read_po, odoo, po_id)
    return po if po["state"] == "purchase" and po["notes"] else None


@pytest.mark.parametrize("kind", ["jsonrpc", "json2"])
async def test_both_transports_name_each_odoo_error_class(erp, kind: str) -> None:
    """What the write-back tells the buyer is the Odoo exception's class, whichever transport
    carried it; the demo ERP raises each one for the reason real Odoo does."""
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("LEAD-05-HB", 10)], "Hongyun Pen Co.")
    buyer, _ = await open_transport(parse_erp_url(erp.url("buyer", transport=kind)))
    viewer, _ = await open_transport(parse_erp_url(erp.url("viewer", transport=kind)))
    stranger, _ = await open_transport(parse_erp_url(erp.url("buyer", "not-the-key", transport=kind)))
    assert buyer.kind == kind
    cases = [
        (buyer.call("purchase.order", "unlink", [po_id]), "UserError", "cancel it first"),
        (buyer.call("purchase.order", "create", vals_list=[{"origin": "no vendor"}]), "ValidationError", "mandatory field"),
        (viewer.call("purchase.order", "button_confirm", [po_id]), "AccessError", ""),
        (buyer.call("purchase.order", "write", [po_id + 1000], vals={"partner_ref": "X"}), "MissingError", ""),
        (stranger.call("purchase.order", "search_count", domain=[]), "AccessDenied", ""),
    ]
    try:
        for pending, name, text in cases:
            with pytest.raises(OdooError) as refused:
                await pending
            assert (refused.value.name, refused.value.short_name) == (f"odoo.exceptions.{name}", name)
            assert text in refused.value.message
        assert (await buyer.call("purchase.order", "read", [po_id], fields=["state"]))[0]["state"] == "sent"
    finally:
        for transport in (buyer, viewer, stranger):
            await transport.close()
