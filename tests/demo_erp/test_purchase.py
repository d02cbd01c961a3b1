"""purchase.order / purchase.order.line rules of Odoo 17 (ODOO.md §4-5)."""

from __future__ import annotations

import odoorpc
import pytest

from tests.demo_erp.conftest import execute_kw, make_po, partner_id, product_id, rpc_error


def state(odoo, po):
    return odoo.env["purchase.order"].read([po], ["state"])[0]["state"]


def set_company(odoo, **vals):
    odoo.env["res.company"].write([odoo.env.ref("base.main_company").id], vals)


def post_bill(odoo, po, *, post=True):
    """A vendor bill for every line of the order (account.move in_invoice)."""
    lines = odoo.env["purchase.order.line"].search_read([("order_id", "=", po)], ["product_id", "product_qty", "price_unit"], load="_classic_write")
    order = odoo.env["purchase.order"].read([po], ["name", "partner_id"], load="_classic_write")[0]
    move = odoo.env["account.move"].create({
        "move_type": "in_invoice",
        "partner_id": order["partner_id"],
        "invoice_origin": order["name"],
        "invoice_line_ids": [(0, 0, {"purchase_line_id": ln["id"], "product_id": ln["product_id"], "quantity": ln["product_qty"], "price_unit": ln["price_unit"]}) for ln in lines],
    })
    if post:
        odoo.env["account.move"].action_post([move])
    return move


def test_create_assigns_sequence_and_computes_amounts(admin):
    PO = admin.env["purchase.order"]
    supplier = partner_id(admin, "Hongyun Pen Co.")
    po = PO.create({"partner_id": supplier, "name": "New", "order_line": [
        (0, 0, {"product_id": product_id(admin, "PEN-GEL05-RED"), "product_qty": 100, "date_planned": "2024-05-20 08:00:00"}),
        (0, 0, {"product_id": product_id(admin, "LEAD-05-HB"), "product_qty": 10, "price_unit": 2.0, "discount": 10, "date_planned": "2024-05-15 08:00:00"}),
        (0, 0, {"display_type": "line_note", "name": "Pack pens by colour, please"}),
    ]})
    row = PO.read([po], ["name", "state", "amount_untaxed", "amount_tax", "amount_total", "date_planned", "currency_id", "user_id", "company_id", "invoice_status", "receipt_status"])[0]
    assert row["name"] == "P00001"
    assert row["state"] == "draft"
    assert row["amount_untaxed"] == pytest.approx(100 * 1.2 + 10 * 2.0 * 0.9)
    assert row["amount_tax"] == pytest.approx(15.6 + 2.34)
    assert row["amount_total"] == pytest.approx(138.0 + 17.94)
    assert row["date_planned"] == "2024-05-15 08:00:00"  # the earliest line
    assert row["currency_id"][1] == "CNY" and row["user_id"][1] == "Administrator" and row["company_id"][1] == "Inkwell Stationery"
    assert row["invoice_status"] == "no" and row["receipt_status"] is False
    lines = admin.env["purchase.order.line"].search_read([("order_id", "=", po)], ["name", "product_uom", "taxes_id", "price_subtotal", "state", "display_type"], order="id")
    # the vendor's language (zh_CN) names the line, as Odoo's product description does
    assert lines[0]["name"] == "[PEN-GEL05-RED] 中性笔 0.5mm (红色)\n红色中性笔"
    assert lines[0]["product_uom"][1] == "Units" and len(lines[0]["taxes_id"]) == 1
    assert lines[0]["price_subtotal"] == pytest.approx(120.0)
    assert lines[2]["display_type"] == "line_note" and lines[2]["price_subtotal"] == 0.0
    assert {ln["state"] for ln in lines} == {"draft"}
    assert PO.create({"partner_id": supplier}) and PO.read(PO.search([], order="id desc", limit=1), ["name"])[0]["name"] == "P00002"


def test_confirm_one_step(admin):
    po = make_po(admin)
    assert admin.env["purchase.order"].button_confirm([po]) is True
    row = admin.env["purchase.order"].read([po], ["state", "date_approve", "invoice_status", "receipt_status"])[0]
    assert row["state"] == "purchase" and row["date_approve"] == "2024-05-06 08:00:00"
    assert row["receipt_status"] == "pending"
    assert admin.env["purchase.order.line"].search_read([("order_id", "=", po)], ["state"])[0]["state"] == "purchase"


def test_confirm_skips_other_states_and_returns_true(admin):
    PO = admin.env["purchase.order"]
    po = make_po(admin)
    PO.button_cancel([po])
    assert PO.button_confirm([po]) is True  # a cancelled PO: no-op, no error
    assert state(admin, po) == "cancel"
    done = make_po(admin)
    PO.button_confirm([done])
    PO.button_done([done])
    assert PO.button_confirm([done]) is True and state(admin, done) == "done"
    sent = make_po(admin)
    PO.write([sent], {"state": "sent"})
    assert PO.button_confirm([sent]) is True and state(admin, sent) == "purchase"


def test_double_validation(admin, login):
    set_company(admin, po_double_validation="two_step", po_double_validation_amount=500.0)
    buyer = login("buyer")
    small = make_po(buyer, [("PEN-GEL05-BLU", 10)])
    big = make_po(buyer, [("PAP-A4-80", 100)])  # 2486 CNY with tax, above 500
    assert buyer.env["purchase.order"].button_confirm([small, big]) is True
    assert state(buyer, small) == "purchase"
    assert state(buyer, big) == "to approve"
    # the buyer cannot approve it: button_approve filters the order out and returns {}
    assert buyer.env["purchase.order"].button_approve([big]) == {}
    assert state(buyer, big) == "to approve"
    # a purchase manager approves; an admin's own big order is confirmed at once
    assert admin.env["purchase.order"].button_approve([big]) == {}
    assert state(admin, big) == "purchase"
    own = make_po(admin, [("PAP-A4-80", 100)])
    admin.env["purchase.order"].button_confirm([own])
    assert state(admin, own) == "purchase"


def test_po_lock_locks_on_approval_and_unlock(admin):
    set_company(admin, po_lock="lock")
    po = make_po(admin)
    admin.env["purchase.order"].button_confirm([po])
    assert state(admin, po) == "done"
    assert admin.env["purchase.order"].button_unlock([po]) is None
    assert state(admin, po) == "purchase"


def test_button_return_values_on_the_wire(erp, admin):
    po = make_po(admin)
    assert execute_kw(erp.url, "admin", "purchase.order", "button_confirm", [[po]]).body["result"] is True
    assert execute_kw(erp.url, "admin", "purchase.order", "button_approve", [[po]]).body["result"] == {}
    assert "result" not in execute_kw(erp.url, "admin", "purchase.order", "button_done", [[po]]).body
    assert "result" not in execute_kw(erp.url, "admin", "purchase.order", "button_cancel", [[po]]).body
    assert execute_kw(erp.url, "admin", "purchase.order", "button_draft", [[po]]).body["result"] == {}
    assert state(admin, po) == "draft"


def test_cancel_refused_with_posted_bill(admin):
    PO = admin.env["purchase.order"]
    po = make_po(admin)
    PO.button_confirm([po])
    admin.env["purchase.order.line"].write(admin.env["purchase.order.line"].search([("order_id", "=", po)]), {"qty_received": 100})
    assert PO.read([po], ["invoice_status", "receipt_status"])[0] == {"id": po, "invoice_status": "to invoice", "receipt_status": "full"}
    move = post_bill(admin, po)
    assert PO.read([po], ["invoice_ids", "invoice_count", "invoice_status"])[0] == {"id": po, "invoice_ids": [move], "invoice_count": 1, "invoice_status": "invoiced"}
    assert admin.env["account.move"].read([move], ["name", "state"])[0] == {"id": move, "name": "BILL/2024/00001", "state": "posted"}
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.button_cancel([po])
    assert rpc_error(excinfo) == ("odoo.exceptions.UserError", "Unable to cancel this purchase order. You must first cancel the related vendor bills.")
    assert state(admin, po) == "purchase"
    admin.env["account.move"].button_cancel([move])
    assert PO.button_cancel([po]) is None
    assert state(admin, po) == "cancel"


def test_cancel_allowed_with_draft_bill(admin):
    po = make_po(admin)
    admin.env["purchase.order"].button_confirm([po])
    post_bill(admin, po, post=False)
    admin.env["purchase.order"].button_cancel([po])
    assert state(admin, po) == "cancel"


def test_delete_needs_cancel_first(admin):
    PO = admin.env["purchase.order"]
    po = make_po(admin)
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.unlink([po])
    assert rpc_error(excinfo) == ("odoo.exceptions.UserError", "In order to delete a purchase order, you must cancel it first.")
    PO.button_cancel([po])
    assert PO.unlink([po]) is True
    assert PO.search([]) == [] and admin.env["purchase.order.line"].search([]) == []


def test_line_constraint_missing_required_fields(admin):
    po = make_po(admin)
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order.line"].create({"order_id": po, "name": "something", "product_qty": 2})
    name, message = rpc_error(excinfo)
    assert name == "odoo.exceptions.ValidationError"
    assert message == "The operation cannot be completed: Missing required fields on accountable purchase order line."
    section = admin.env["purchase.order.line"].create({"order_id": po, "name": "Pens", "display_type": "line_section"})
    assert admin.env["purchase.order.line"].read([section], ["product_qty", "product_id"])[0] == {"id": section, "product_qty": 0.0, "product_id": False}


def test_quantity_below_received_refused(admin):
    po = make_po(admin, [("PEN-GEL05-BLK", 50)])
    admin.env["purchase.order"].button_confirm([po])
    line = admin.env["purchase.order.line"].search([("order_id", "=", po)])[0]
    admin.env["purchase.order.line"].write([line], {"qty_received": 30})
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order.line"].write([line], {"product_qty": 20})
    assert rpc_error(excinfo) == ("odoo.exceptions.UserError", "You cannot decrease the ordered quantity below the received quantity.\nCreate a return first.")
    # through the order's one2many too
    with pytest.raises(odoorpc.error.RPCError):
        admin.env["purchase.order"].write([po], {"order_line": [(1, line, {"product_qty": 29})]})
    admin.env["purchase.order.line"].write([line], {"product_qty": 30})
    assert admin.env["purchase.order.line"].read([line], ["product_qty"])[0]["product_qty"] == 30.0
    assert admin.env["purchase.order"].read([po], ["receipt_status"])[0]["receipt_status"] == "full"


def test_delete_line_of_confirmed_order_refused(admin):
    po = make_po(admin, [("PEN-GEL05-BLK", 5), ("PEN-GEL05-RED", 5)])
    lines = admin.env["purchase.order.line"].search([("order_id", "=", po)])
    admin.env["purchase.order.line"].unlink([lines[1]])  # fine while an RFQ
    admin.env["purchase.order"].button_confirm([po])
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order.line"].unlink([lines[0]])
    assert rpc_error(excinfo) == ("odoo.exceptions.UserError", "Cannot delete a purchase order line which is in state “Purchase Order”.")
    admin.env["purchase.order"].button_done([po])
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order"].write([po], {"order_line": [(2, lines[0])]})
    assert rpc_error(excinfo)[1] == "Cannot delete a purchase order line which is in state “Locked”."


def test_state_writes_are_not_refused(admin):
    po = make_po(admin)
    admin.env["purchase.order"].write([po], {"state": "purchase"})
    assert state(admin, po) == "purchase"
    admin.env["purchase.order"].write([po], {"state": "draft"})
    assert state(admin, po) == "draft"


def test_message_post_and_rfq_send(admin):
    PO = admin.env["purchase.order"]
    po = make_po(admin)
    action = PO.action_rfq_send([po])
    assert action["type"] == "ir.actions.act_window" and action["res_model"] == "mail.compose.message"
    assert action["context"]["mark_rfq_as_sent"] is True and action["context"]["default_res_ids"] == [po]
    assert state(admin, po) == "draft"  # sends nothing, changes nothing
    note = admin.execute_kw("purchase.order", "message_post", [[po]], {"body": "Can you deliver by Friday? <b>urgent</b>", "message_type": "comment", "subtype_xmlid": "mail.mt_note"})
    assert isinstance(note, int) and state(admin, po) == "draft"
    sent = admin.execute_kw("purchase.order", "message_post", [[po]], {
        "body": "<p>RFQ attached</p>", "body_is_html": True, "subject": "RFQ P00001", "message_type": "comment",
        "subtype_xmlid": "mail.mt_comment", "partner_ids": [partner_id(admin, "Hongyun Pen Co.")], "context": {"mark_rfq_as_sent": True},
    })
    assert state(admin, po) == "sent"
    messages = admin.env["mail.message"].search_read([("model", "=", "purchase.order"), ("res_id", "=", po), ("message_type", "=", "comment")], ["body", "subject", "subtype_id", "author_id", "partner_ids", "is_internal"], order="id asc")
    assert [m["id"] for m in messages] == [note, sent]
    assert messages[0]["body"] == "<p>Can you deliver by Friday? &lt;b&gt;urgent&lt;/b&gt;</p>"
    assert messages[0]["subtype_id"][1] == "Note" and messages[0]["is_internal"] is True
    assert messages[1]["body"] == "<p>RFQ attached</p>" and messages[1]["subject"] == "RFQ P00001"
    assert messages[1]["subtype_id"][1] == "Discussions" and messages[1]["partner_ids"] == [partner_id(admin, "Hongyun Pen Co.")]
    assert messages[1]["author_id"][0] == admin.env.user.partner_id.id
    # the state change was tracked in the chatter as a notification
    tracking = admin.env["mail.message"].search_read([("model", "=", "purchase.order"), ("res_id", "=", po), ("message_type", "=", "notification")], ["subtype_id"])
    assert [t["subtype_id"][1] for t in tracking] == ["RFQ Sent"]
    assert sorted(PO.read([po], ["message_ids"])[0]["message_ids"]) == sorted([note, sent, tracking[0]["id"]])
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.execute_kw("purchase.order", "message_post", [[po]], {"body": "x", "colour": "red"})
    assert rpc_error(excinfo) == ("builtins.ValueError", "Invalid field 'colour' on model 'mail.message'")
