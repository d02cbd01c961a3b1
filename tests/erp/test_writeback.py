"""Chat -> ERP: the supplier's answers written back to the purchase order, once."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from aiohttp import web

from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange, OrderState

from .conftest import buyer_event, call, card_in_inbox, make_po, read_po, wait_for
from .proxy import ErpProxy


async def test_confirm_sets_po_purchase_with_chatter_note(erp, connector, client_for) -> None:
    service = await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("PEN-GEL05-RED", 100)])
    supplier, buyer = await client_for("hongyun-pens"), await client_for("lin")
    card = await card_in_inbox(supplier)
    started = time.monotonic()
    reply = await supplier.orders.confirm(card.order_id, note="ships Friday", supplier_ref="HY-2026-0042")
    await wait_for(lambda: call(read_po, odoo, po_id), timeout=10)
    po = await wait_for(lambda: _po_in_state(odoo, po_id, "purchase"), timeout=10, every=0.02)
    print(f"\nconfirm -> PO state purchase: {(time.monotonic() - started) * 1000:.0f} ms")
    notes = [n["body"] for n in po["notes"] if "orderchat" in n["body"]]
    assert len(notes) == 1
    assert "confirmed this order in orderchat" in notes[0] and reply.event.hash in notes[0] and "ships Friday" in notes[0]
    # The supplier's own order number is the PO's vendor reference now.
    assert po["partner_ref"] == "HY-2026-0042"
    assert reply.event.supplier_ref == "HY-2026-0042" and reply.order.supplier_ref == "HY-2026-0042"
    event = await buyer_event(buyer, "erp_confirmed")
    assert event.data["erp_state"] == "purchase" and event.data["po_id"] == po_id
    # Handling the same event again (a redelivery after a crash) writes nothing twice.
    again = await service.writeback.write_back(reply.event)
    assert again is not None and again.outcome == "written"
    await service.store.done.kv.delete(service.store.done_key(card.order_id, reply.event.n))
    redo = await service.writeback.write_back(reply.event)
    assert redo is not None and redo.erp_state == "purchase"
    po = await call(read_po, odoo, po_id)
    assert len([n for n in po["notes"] if "orderchat" in n["body"]]) == 1
    assert po["state"] == "purchase"


async def _po_in_state(odoo, po_id: int, state: str):
    po = await call(read_po, odoo, po_id)
    return po if po["state"] == state and any("orderchat" in n["body"] for n in po["notes"]) else None


async def test_red_out_of_stock_blue_instead_accepted_updates_lines(erp, connector, client_for) -> None:
    await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("PEN-GEL05-RED", 100), ("LEAD-05-HB", 20)])
    supplier, buyer = await client_for("hongyun-pens"), await client_for("lin")
    card = await card_in_inbox(supplier)
    red, lead = card.lines
    answers = [
        LineAnswer(line_id=red.line_id, answer=LineAnswerCode.ACCEPTED_WITH_CHANGES,
                   change=LineChange(substitute_sku="PEN-GEL05-BLU", quantity=Decimal(120), delivery_date=date(2030, 5, 10)),
                   note="red out of stock, blue instead"),
        LineAnswer(line_id=lead.line_id, answer=LineAnswerCode.ACCEPTED),
    ]
    proposed = await supplier.orders.propose(card.order_id, answers)
    assert proposed.order.state is OrderState.CHANGES_PROPOSED
    await buyer.orders.accept_changes(card.order_id)
    po = await wait_for(lambda: _po_in_state(odoo, po_id, "purchase"), timeout=15)
    blue = await call(odoo.env["product.product"].search, [("default_code", "=", "PEN-GEL05-BLU")])
    by_product = {line["product_id"][0]: line for line in po["lines"]}
    assert blue[0] in by_product
    assert by_product[blue[0]]["product_qty"] == 120.0 and by_product[blue[0]]["date_planned"].startswith("2030-05-10")
    assert by_product[blue[0]]["price_unit"] == 1.2
    assert len(po["lines"]) == 2
    bodies = " ".join(n["body"] for n in po["notes"])
    assert "proposed changes" in bodies and "accepted" in bodies and "PEN-GEL05-BLU" in bodies
    # The ERP now shows the agreed revision: the sync sees no amendment in our own write.
    order = await buyer.orders.show(card.order_id)
    assert order.state is OrderState.CONFIRMED and order.revision == 2


def _confirmed_po(odoo, lines: list[tuple[str, float]]) -> int:
    po_id = make_po(odoo, lines, send=False)
    odoo.execute_kw("purchase.order", "button_confirm", [[po_id]])
    return po_id


async def test_a_rejected_line_of_a_confirmed_po_is_set_to_zero_with_the_other_changes(erp, connector, client_for) -> None:
    # Odoo refuses to delete a line of a confirmed PO: the rejection is written as quantity 0
    # in the same write as the accepted change, and the zero line is no amendment to the order.
    await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(_confirmed_po, odoo, [("PEN-GEL05-RED", 300), ("PEN-GEL05-BLK", 100), ("LEAD-05-HB", 40)])
    before = await call(read_po, odoo, po_id)
    supplier, buyer = await client_for("hongyun-pens"), await client_for("lin")
    card = await card_in_inbox(supplier)
    red, black, lead = card.lines
    await supplier.orders.propose(card.order_id, [
        LineAnswer(line_id=red.line_id, answer=LineAnswerCode.ACCEPTED),
        LineAnswer(line_id=black.line_id, answer=LineAnswerCode.ACCEPTED_WITH_CHANGES, change=LineChange(quantity=Decimal(80))),
        LineAnswer(line_id=lead.line_id, answer=LineAnswerCode.REJECTED),
    ])
    await buyer.orders.accept_changes(card.order_id)
    event = await buyer_event(buyer, "erp_confirmed")
    assert event.data["erp_state"] == "purchase"
    po = await call(read_po, odoo, po_id)
    qty = {line["id"]: line["product_qty"] for line in po["lines"]}
    ids = [line["id"] for line in before["lines"]]
    assert [qty[i] for i in ids] == [300.0, 80.0, 0.0] and po["state"] == "purchase"
    # Dates the supplier did not change keep the ERP's own time of day.
    planned = {line["id"]: line["date_planned"] for line in before["lines"]}
    assert all(line["date_planned"] == planned[line["id"]] for line in po["lines"])
    assert any("accepted" in n["body"] for n in po["notes"] if "orderchat" in n["body"])
    order = await buyer.orders.show(card.order_id)
    assert order.state is OrderState.CONFIRMED and order.revision == 2 and len(order.lines) == 2


async def test_erp_down_during_confirmation_is_written_once_after_it_returns(erp, connector, client_for) -> None:
    service = await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("PAP-A4-80", 30)], "Sunrise Paper Mill")
    supplier = await client_for("sunrise-paper")
    card = await card_in_inbox(supplier)
    await call(erp.stop)
    await supplier.orders.confirm(card.order_id)
    await wait_for(lambda: not service.writeback.erp_up, timeout=10)
    assert await service.writeback.pending() == 1
    status = await service.status()
    assert status.writeback_pending == 1 and status.erp_up is False
    await call(erp.start)
    odoo = await call(erp.odoo, "admin")
    po = await wait_for(lambda: _po_in_state(odoo, po_id, "purchase"), timeout=20)
    assert len([n for n in po["notes"] if "orderchat" in n["body"]]) == 1
    await wait_for(lambda: service.writeback.pending() if False else _drained(service), timeout=10)


async def _drained(service) -> bool:
    return await service.writeback.pending() == 0


async def test_po_edited_in_erp_asks_supplier_to_confirm_again(erp, connector, client_for) -> None:
    await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("FLD-A4-CLR", 50)], "Everything Office Wholesale")
    supplier = await client_for("everything-office")
    card = await card_in_inbox(supplier, revision=1)
    line_id = int(card.lines[0].line_id[1:])
    await call(odoo.execute_kw, "purchase.order.line", "write", [[line_id], {"product_qty": 80}])
    amended = await card_in_inbox(supplier, revision=2)
    assert amended.lines[0].quantity == Decimal(80) and amended.changed_lines == (card.lines[0].line_id,)
    order = await supplier.orders.show(card.order_id)
    assert order.state in (OrderState.SENT, OrderState.SEEN) and order.revision == 2
    # Confirming the new revision confirms the PO as edited.
    await supplier.orders.confirm(card.order_id)
    po = await wait_for(lambda: _po_in_state(odoo, po_id, "purchase"), timeout=15)
    assert po["lines"][0]["product_qty"] == 80.0


class FlakyProxy(ErpProxy):
    """Can answer 503 (a gateway whose ERP is restarting)."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.failing = False
        self.refused = 0

    async def intercept(self, request: web.Request, body: bytes) -> web.Response | None:
        if self.failing:
            self.refused += 1
            return web.Response(status=503, text="<html>Service Temporarily Unavailable</html>")
        return None


async def test_erp_answering_503_during_confirmation_is_retried_and_written_once(erp, connector, client_for) -> None:
    proxy = FlakyProxy(erp.port)
    service = await connector(port=await proxy.start())
    try:
        odoo = await call(erp.odoo, "admin")
        po_id = await call(make_po, odoo, [("GLUE-21G", 24)], "Everything Office Wholesale")
        supplier = await client_for("everything-office")
        card = await card_in_inbox(supplier)
        proxy.failing = True
        await supplier.orders.confirm(card.order_id)
        await wait_for(lambda: not service.writeback.erp_up, timeout=10)
        assert proxy.refused >= 1 and await service.writeback.pending() == 1
        assert (await call(read_po, odoo, po_id))["state"] == "sent"
        proxy.failing = False
        po = await wait_for(lambda: _po_in_state(odoo, po_id, "purchase"), timeout=20)
        assert len([n for n in po["notes"] if "orderchat" in n["body"]]) == 1
        await wait_for(lambda: _drained(service), timeout=10)
    finally:
        await service.stop()
        await proxy.stop()
