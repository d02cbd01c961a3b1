"""Users, groups and model access: admin (purchase manager), buyer (purchase user), viewer (read-only)."""

from __future__ import annotations

import odoorpc
import pytest

from tests.demo_erp.conftest import make_po, partner_id, rpc_error

MODIFY_PO = "You are not allowed to modify 'Purchase Order' (purchase.order) records."


def test_groups_of_seeded_users(admin):
    users = admin.env["res.users"].search_read([("login", "in", ["admin", "buyer", "viewer"])], ["login", "groups_id"], order="id")
    assert [u["login"] for u in users] == ["admin", "buyer", "viewer"]
    for login, expected in (("admin", True), ("buyer", False), ("viewer", False)):
        client = odoorpc.ODOO("127.0.0.1", port=admin.port)
        client.login("demo", login, login)
        assert client.execute("res.users", "has_group", "purchase.group_purchase_manager") is expected


def test_viewer_reads_but_cannot_change(admin, login):
    po = make_po(admin)
    viewer = login("viewer")
    PO = viewer.env["purchase.order"]
    assert PO.search_read([], ["name", "state"]) == [{"id": po, "name": "P00001", "state": "draft"}]
    for call in (
        lambda: PO.write([po], {"notes": "mine"}),
        lambda: PO.button_confirm([po]),
        lambda: PO.button_cancel([po]),
        lambda: viewer.env["purchase.order.line"].write(viewer.env["purchase.order.line"].search([]), {"product_qty": 1}),
    ):
        with pytest.raises(odoorpc.error.RPCError) as excinfo:
            call()
        name, message = rpc_error(excinfo)
        assert name == "odoo.exceptions.AccessError"
        assert message.split("\n")[0] in (MODIFY_PO, "You are not allowed to modify 'Purchase Order Line' (purchase.order.line) records.")
        assert "This operation is allowed for the following groups:\n\t- Purchase / User" in message
        assert message.endswith("Contact your administrator to request access if necessary.")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.create({"partner_id": partner_id(viewer, "Hongyun Pen Co.")})
    assert rpc_error(excinfo)[1].startswith("You are not allowed to create 'Purchase Order' (purchase.order) records.")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.unlink([po])
    assert rpc_error(excinfo)[1].startswith("You are not allowed to delete 'Purchase Order' (purchase.order) records.")
    assert admin.env["purchase.order"].read([po], ["state", "notes"])[0] == {"id": po, "state": "draft", "notes": False}


def test_viewer_confirming_a_cancelled_order_is_still_a_no_op(admin, login):
    # Odoo only checks write access when something is written: a skipped order writes nothing.
    po = make_po(admin)
    admin.env["purchase.order"].button_cancel([po])
    assert login("viewer").env["purchase.order"].button_confirm([po]) is True


def test_buyer_works_with_orders_but_not_company_settings(admin, login):
    buyer = login("buyer")
    po = make_po(buyer)
    buyer.env["purchase.order"].button_confirm([po])
    assert buyer.env["purchase.order"].read([po], ["state", "user_id"])[0]["user_id"] == [3, "Lin Wei"]
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        buyer.env["res.company"].write([1], {"po_double_validation": "one_step"})
    assert rpc_error(excinfo)[0] == "odoo.exceptions.AccessError"
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        buyer.env["product.product"].write(buyer.env["product.product"].search([], limit=1), {"standard_price": 0})
    assert rpc_error(excinfo)[1].startswith("You are not allowed to modify 'Product Variant' (product.product) records.")


def test_wrong_password_and_inactive_system_user(erp):
    for login, password in (("viewer", "buyer"), ("__system__", ""), ("admin", "")):
        client = odoorpc.ODOO("127.0.0.1", port=erp.port)
        with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
            client.login("demo", login, password)
