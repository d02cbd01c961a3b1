"""Odoo's purchase.order behaviours the write-back handles on purpose (ODOO.md 4): a rejection
leaves the PO to the buyer, button_confirm skips a cancelled PO silently, double validation
stops at `to approve`, and a refused login (AccessDenied) holds the answer until it works."""

from __future__ import annotations

from .conftest import buyer_event, call, card_in_inbox, make_po, read_po, wait_for


def _orderchat_notes(po: dict) -> list[str]:
    return [n["body"] for n in po["notes"] if "orderchat" in n["body"]]


async def test_rejection_is_noted_and_the_po_left_for_the_buyer(erp, connector, client_for) -> None:
    await connector()
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("NB-A5-80", 500)], "Sunrise Paper Mill")
    supplier, buyer = await client_for("sunrise-paper"), await client_for("lin")
    card = await card_in_inbox(supplier)
    reply = await supplier.orders.reject(card.order_id, "we stopped making A5 notebooks")
    event = await buyer_event(buyer, "erp_noted")
    assert event.data["answer"] == "rejected" and event.data["po_id"] == po_id
    po = await call(read_po, odoo, po_id)
    assert po["state"] == "sent" and po["lines"][0]["product_qty"] == 500.0
    [note] = _orderchat_notes(po)
    assert "rejected this order" in note and "we stopped making A5 notebooks" in note and reply.event.hash in note


async def test_confirming_a_po_cancelled_in_the_erp_leaves_it_cancelled(erp, connector, client_for) -> None:
    service = await connector(poll=3600)  # polls at start and when woken only
    await wait_for(lambda: service.polls >= 1)
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("GLUE-21G", 40)], "Everything Office Wholesale")
    service.wake()
    supplier, buyer = await client_for("everything-office"), await client_for("lin")
    card = await card_in_inbox(supplier)
    # Cancelled in the ERP before the connector looks again; the supplier confirms meanwhile.
    await call(odoo.execute_kw, "purchase.order", "button_cancel", [[po_id]])
    await supplier.orders.confirm(card.order_id)
    event = await buyer_event(buyer, "erp_po_cancelled")
    assert event.data["erp_state"] == "cancel" and "left as it is for the buyer" in event.data["message"]
    po = await call(read_po, odoo, po_id)
    assert po["state"] == "cancel"
    [note] = _orderchat_notes(po)
    assert "confirmed this order" in note and "cancelled in the ERP" in note


async def test_double_validation_stops_at_to_approve_and_the_buyer_is_told(erp, connector, client_for) -> None:
    odoo = await call(erp.odoo, "admin")
    await call(odoo.execute_kw, "res.company", "write", [[1], {"po_double_validation": "two_step", "po_double_validation_amount": 5000}])
    service = await connector(login="buyer")  # a purchase user, not a manager: above the threshold needs approval
    po_id = await call(make_po, odoo, [("PAP-A4-80", 300)], "Sunrise Paper Mill")  # 300 x 22.00 + VAT
    supplier, buyer = await client_for("sunrise-paper"), await client_for("lin")
    card = await card_in_inbox(supplier)
    await supplier.orders.confirm(card.order_id)
    event = await buyer_event(buyer, "erp_needs_approval")
    assert event.data["erp_state"] == "to approve" and "second approval" in event.data["message"]
    po = await call(read_po, odoo, po_id)
    assert po["state"] == "to approve" and len(_orderchat_notes(po)) == 1
    # The manager approves in the ERP; the connector does not take that for an amendment.
    await call(odoo.execute_kw, "purchase.order", "button_approve", [[po_id]])
    polls = service.polls
    await wait_for(lambda: service.polls >= polls + 2)
    order = await buyer.orders.show(card.order_id)
    assert (await call(read_po, odoo, po_id))["state"] == "purchase" and order.revision == 1


async def test_access_denied_is_told_and_the_confirmation_written_once_the_login_works(erp, connector, client_for) -> None:
    service = await connector(login="buyer")
    odoo = await call(erp.odoo, "admin")
    po_id = await call(make_po, odoo, [("PEN-GEL05-BLK", 60)])
    supplier, buyer = await client_for("hongyun-pens"), await client_for("lin")
    card = await card_in_inbox(supplier)
    await call(odoo.execute_kw, "res.users", "write", [[3], {"active": False}])  # the connector's ERP user archived
    await supplier.orders.confirm(card.order_id)
    refused = await buyer_event(buyer, "erp_error")
    assert refused.data["error"] == "AccessDenied" and refused.data["odoo_exception"] == "odoo.exceptions.AccessDenied"
    assert (await call(read_po, odoo, po_id))["state"] == "sent"
    assert await service.writeback.pending() == 1  # held, not dropped
    await call(odoo.execute_kw, "res.users", "write", [[3], {"active": True}])
    confirmed = await buyer_event(buyer, "erp_confirmed", timeout=30)
    assert confirmed.data["erp_state"] == "purchase"
    po = await call(read_po, odoo, po_id)
    assert po["state"] == "purchase" and len(_orderchat_notes(po)) == 1
    # The poll, refused meanwhile too, works again: the next PO reaches the supplier.
    blue = await call(make_po, odoo, [("PEN-GEL05-BLU", 10)])
    card = await card_in_inbox(supplier, revision=1)
    assert card.erp_ref == f"erp:demo:{blue}" and service.last_error is None
