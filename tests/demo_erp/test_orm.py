"""Generic ORM behaviour every model shares: domains, ordering, reads, writes, errors (ODOO.md §7)."""

from __future__ import annotations

import odoorpc
import pytest

from orderchat.integrations.demo_erp import SEED_CATEGORIES, SEED_PRODUCTS, SEED_SUPPLIERS
from tests.demo_erp.conftest import make_po, partner_id, product_id, rpc_error


def codes(odoo, domain, **kwargs):
    rows = odoo.env["product.product"].search_read(domain, ["default_code"], **kwargs)
    return [row["default_code"] for row in rows]


def test_seeded_catalogue(admin):
    assert sorted(codes(admin, [])) == sorted(p.sku for p in SEED_PRODUCTS)
    suppliers = admin.env["res.partner"].search_read([("ref", "like", "SUP-")], ["name", "email", "supplier_rank", "is_company"])
    assert {s["name"] for s in suppliers} == {s.name for s in SEED_SUPPLIERS}
    assert all(s["is_company"] for s in suppliers)
    categories = admin.env["product.category"].search_read([("parent_id", "!=", False)], ["complete_name"])
    assert sorted(c["complete_name"] for c in categories) == sorted(f"All / {name}" for name in SEED_CATEGORIES)
    tax = admin.env["account.tax"].search_read([("type_tax_use", "=", "purchase")], ["amount", "amount_type"])
    assert tax == [{"id": tax[0]["id"], "amount": 13.0, "amount_type": "percent"}]


def test_variant_display_names_and_translations(admin):
    red = product_id(admin, "PEN-GEL05-RED")
    row = admin.env["product.product"].read([red], ["display_name", "name", "default_code"])[0]
    assert row["display_name"] == "[PEN-GEL05-RED] Gel pen 0.5 mm (Red)"
    assert row["name"] == "Gel pen 0.5 mm"
    zh = admin.execute_kw("product.product", "read", [[red], ["display_name", "name", "description_purchase"]], {"context": {"lang": "zh_CN"}})[0]
    assert zh["display_name"] == "[PEN-GEL05-RED] 中性笔 0.5mm (红色)"
    assert zh["description_purchase"] == "红色中性笔"
    # a translated field is searched in the context's language, as in Odoo 17
    assert admin.execute_kw("product.product", "search", [[("name", "ilike", "中性笔")]], {"context": {"lang": "zh_CN"}}) != []
    assert admin.env["product.product"].search([("name", "ilike", "中性笔")]) == []


def test_domain_operators(admin):
    assert codes(admin, [("default_code", "=like", "PEN-%")]) == ["PEN-GEL05-BLK", "PEN-GEL05-BLU", "PEN-GEL05-RED"]
    assert codes(admin, [("default_code", "=ilike", "pen-gel05-r%")]) == ["PEN-GEL05-RED"]
    assert codes(admin, [("name", "ilike", "GEL PEN")]) == ["PEN-GEL05-BLK", "PEN-GEL05-BLU", "PEN-GEL05-RED"]
    assert codes(admin, [("name", "like", "GEL PEN")]) == []
    assert codes(admin, [("default_code", "in", ["GLUE-21G", "NB-A5-80", "nope"])]) == ["GLUE-21G", "NB-A5-80"]
    assert len(codes(admin, [("default_code", "not in", ["GLUE-21G"])])) == len(SEED_PRODUCTS) - 1
    assert codes(admin, [("standard_price", ">=", 6.8)]) == ["NB-A5-80", "PAP-A4-80"]
    assert codes(admin, [("standard_price", "<", 1.5)]) == ["PEN-GEL05-BLK", "PEN-GEL05-BLU", "PEN-GEL05-RED"]
    assert codes(admin, ["|", ("default_code", "=", "GLUE-21G"), ("default_code", "=", "FLD-A4-CLR")]) == ["FLD-A4-CLR", "GLUE-21G"]
    assert codes(admin, ["&", ("categ_id.name", "=", "Pens"), "!", ("default_code", "=", "PEN-GEL05-RED")]) == ["PEN-GEL05-BLK", "PEN-GEL05-BLU"]
    assert codes(admin, [("categ_id", "=", "All / Paper")]) == ["PAP-A4-80"]
    assert codes(admin, [("categ_id", "ilike", "adhesive")]) == ["GLUE-21G"]
    assert codes(admin, [("default_code", "!=", False), ("barcode", "=", False), ("default_code", "ilike", "lead")]) == ["LEAD-05-HB"]
    all_categ = admin.env.ref("product.product_category_all").id
    assert len(codes(admin, [("categ_id", "child_of", all_categ)])) == len(SEED_PRODUCTS)
    pens = admin.env["product.category"].search([("name", "=", "Pens")])
    assert codes(admin, [("categ_id", "child_of", pens)]) == ["PEN-GEL05-BLK", "PEN-GEL05-BLU", "PEN-GEL05-RED"]
    assert admin.env["product.category"].search_count([("id", "child_of", all_categ)]) == len(SEED_CATEGORIES) + 1


def test_order_offset_limit(admin):
    ordered = codes(admin, [], order="standard_price desc, default_code asc")
    assert ordered[:2] == ["PAP-A4-80", "NB-A5-80"]
    assert codes(admin, [], order="standard_price desc, default_code asc", offset=1, limit=2) == ordered[1:3]
    assert admin.env["product.product"].search([], limit=3, order="id desc") == sorted(admin.env["product.product"].search([]), reverse=True)[:3]
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["product.product"].search([], order="no_such_field asc")
    assert rpc_error(excinfo)[0] == "builtins.ValueError"


def test_read_formats(admin):
    po = make_po(admin)
    default = admin.env["purchase.order"].read([po], ["partner_id", "order_line", "notes", "date_approve"])[0]
    supplier = partner_id(admin, "Hongyun Pen Co.")
    assert default["partner_id"] == [supplier, "Hongyun Pen Co."]
    assert default["notes"] is False and default["date_approve"] is False
    assert len(default["order_line"]) == 1
    classic = admin.execute_kw("purchase.order", "read", [[po], ["partner_id", "currency_id"]], {"load": "_classic_write"})[0]
    assert classic == {"id": po, "partner_id": supplier, "currency_id": admin.env.ref("base.CNY").id}
    # ids that do not exist are left out of read(), not an error
    assert admin.env["purchase.order"].read([po, 9999], ["name"]) == [{"id": po, "name": "P00001"}]


def test_name_search(admin):
    found = admin.env["product.product"].name_search("GLUE")
    assert found == [[product_id(admin, "GLUE-21G"), "[GLUE-21G] Glue stick 21 g"]]
    assert len(admin.env["res.partner"].name_search("pen", limit=5)) == 1
    assert admin.execute_kw("product.product", "name_search", [], {"name": "gel", "args": [("default_code", "like", "BLU")]}) == [
        [product_id(admin, "PEN-GEL05-BLU"), "[PEN-GEL05-BLU] Gel pen 0.5 mm (Blue)"]
    ]


def test_create_batch_and_x2many_commands(admin):
    Line = admin.env["purchase.order.line"]
    PO = admin.env["purchase.order"]
    supplier = partner_id(admin, "Everything Office Wholesale")
    glue, folder, notebook = (product_id(admin, s) for s in ("GLUE-21G", "FLD-A4-CLR", "NB-A5-80"))
    ids = PO.create([{"partner_id": supplier}, {"partner_id": supplier, "partner_ref": "EO-77"}])
    assert isinstance(ids, list) and len(ids) == 2
    assert PO.read(ids, ["name", "display_name"]) == [
        {"id": ids[0], "name": "P00001", "display_name": "P00001"},
        {"id": ids[1], "name": "P00002", "display_name": "P00002 (EO-77)"},
    ]
    po = ids[0]
    PO.write([po], {"order_line": [(0, 0, {"product_id": glue, "product_qty": 10}), (0, 0, {"product_id": folder, "product_qty": 20})]})
    lines = Line.search([("order_id", "=", po)])
    assert len(lines) == 2
    PO.write([po], {"order_line": [(1, lines[0], {"product_qty": 12}), (2, lines[1])]})
    assert Line.search_read([("order_id", "=", po)], ["product_qty"]) == [{"id": lines[0], "product_qty": 12.0}]
    other = Line.create({"order_id": ids[1], "product_id": notebook, "product_qty": 3})
    PO.write([po], {"order_line": [(4, other)]})
    assert sorted(PO.read([po], ["order_line"])[0]["order_line"]) == sorted([lines[0], other])
    PO.write([po], {"order_line": [(6, 0, [other])]})
    assert PO.read([po], ["order_line"])[0]["order_line"] == [other]
    assert Line.search([("id", "=", lines[0])]) == []  # replaced one2many lines are deleted
    assert PO.read([ids[1]], ["order_line"])[0]["order_line"] == []


def test_unknown_field_errors(admin):
    PO = admin.env["purchase.order"]
    supplier = partner_id(admin, "Hongyun Pen Co.")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.create({"partner_id": supplier, "colour": "red"})
    assert rpc_error(excinfo) == ("builtins.ValueError", "Invalid field 'colour' on model 'purchase.order'")
    po = make_po(admin)
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.write([po], {"colour": "red"})
    assert rpc_error(excinfo) == ("builtins.ValueError", "Invalid field 'colour' on model 'purchase.order'")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.read([po], ["colour"])
    assert rpc_error(excinfo) == ("builtins.ValueError", "Invalid field 'colour' on model 'purchase.order'")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.search([("colour", "=", 1)])
    assert rpc_error(excinfo) == ("builtins.ValueError", "Invalid field purchase.order.colour in leaf ('colour', '=', 1)")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        PO.write([po], {"state": "foo"})
    assert rpc_error(excinfo) == ("builtins.ValueError", "Wrong value for purchase.order.state: 'foo'")


def test_missing_record_on_write(admin):
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order"].write([4242], {"notes": "x"})
    name, message = rpc_error(excinfo)
    assert name == "odoo.exceptions.MissingError"
    assert message.startswith("One of the documents you are trying to access has been deleted")
    assert "Records: [4242]" in message
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order"].button_confirm([4242])
    assert rpc_error(excinfo) == (
        "odoo.exceptions.MissingError",
        "Record does not exist or has been deleted.\n(Record: purchase.order(4242,), User: 2)",
    )


def test_automatic_fields_are_dropped_on_write(admin, clock):
    po = make_po(admin)
    before = admin.env["purchase.order"].read([po], ["write_date", "create_date", "create_uid"])[0]
    clock.advance(5)
    admin.env["purchase.order"].write([po], {"write_date": "2000-01-01 00:00:00", "create_date": "2000-01-01 00:00:00", "id": 77, "create_uid": 3, "origin": "chat"})
    after = admin.env["purchase.order"].read([po], ["write_date", "create_date", "create_uid", "origin"])[0]
    assert after["write_date"] == clock.stamp()
    assert after["create_date"] == before["create_date"]
    assert after["create_uid"] == before["create_uid"] == [2, "Administrator"]
    assert after["origin"] == "chat" and after["id"] == po


def test_required_fields(admin):
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env["purchase.order"].create({"origin": "no vendor"})
    name, message = rpc_error(excinfo)
    assert name == "odoo.exceptions.ValidationError"
    assert "a mandatory field is not set" in message and "Field: Vendor (partner_id)" in message


def test_failed_call_rolls_back(admin):
    supplier = partner_id(admin, "Hongyun Pen Co.")
    with pytest.raises(odoorpc.error.RPCError):
        admin.env["purchase.order"].create({"partner_id": supplier, "order_line": [(0, 0, {"name": "no product", "product_qty": 1})]})
    assert admin.env["purchase.order"].search_count([]) == 0
    assert admin.env["purchase.order.line"].search_count([]) == 0
    # like PostgreSQL sequences, the order number used by the failed call is not given back
    po = make_po(admin)
    assert admin.env["purchase.order"].read([po], ["name"])[0]["name"] == "P00002"
