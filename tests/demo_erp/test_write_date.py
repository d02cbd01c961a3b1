"""write_date semantics the connector's polling relies on (ODOO.md §8)."""

from __future__ import annotations

from tests.demo_erp.conftest import make_po


def dates(odoo, model, rec_id):
    row = odoo.env[model].read([rec_id], ["write_date", "create_date"])[0]
    return row["write_date"], row["create_date"]


def test_write_date_is_the_transaction_start_in_utc_seconds(admin, clock):
    po = make_po(admin)
    line = admin.env["purchase.order.line"].search([("order_id", "=", po)])[0]
    # one call, one stamp: the order and the lines it created share it
    assert dates(admin, "purchase.order", po) == ("2024-05-06 08:00:00", "2024-05-06 08:00:00")
    assert dates(admin, "purchase.order.line", line) == ("2024-05-06 08:00:00", "2024-05-06 08:00:00")
    clock.advance(90)
    admin.env["purchase.order"].write([po], {"origin": "chat #12"})
    assert dates(admin, "purchase.order", po) == ("2024-05-06 08:01:30", "2024-05-06 08:00:00")
    assert dates(admin, "purchase.order.line", line)[0] == "2024-05-06 08:00:00"


def test_direct_line_write_changes_the_line_and_recomputed_order(admin, clock):
    po = make_po(admin)
    line = admin.env["purchase.order.line"].search([("order_id", "=", po)])[0]
    clock.advance(10)
    admin.env["purchase.order.line"].write([line], {"name": "Red gel pens, boxes of 12"})
    assert dates(admin, "purchase.order.line", line)[0] == "2024-05-06 08:00:10"
    # only the description changed: nothing stored on the order depends on it
    assert dates(admin, "purchase.order", po)[0] == "2024-05-06 08:00:00"
    clock.advance(10)
    admin.env["purchase.order.line"].write([line], {"price_unit": 1.1})
    assert dates(admin, "purchase.order.line", line)[0] == "2024-05-06 08:00:20"
    # the amounts are recomputed, and recomputation stamps the order as in Odoo
    assert dates(admin, "purchase.order", po)[0] == "2024-05-06 08:00:20"


def test_write_through_one2many_changes_order_and_line(admin, clock):
    po = make_po(admin, [("PEN-GEL05-RED", 10), ("PEN-GEL05-BLU", 10)])
    first, second = admin.env["purchase.order.line"].search([("order_id", "=", po)], order="id")
    clock.advance(30)
    admin.env["purchase.order"].write([po], {"order_line": [(1, first, {"sequence": 5})]})
    assert dates(admin, "purchase.order", po)[0] == "2024-05-06 08:00:30"
    assert dates(admin, "purchase.order.line", first)[0] == "2024-05-06 08:00:30"
    assert dates(admin, "purchase.order.line", second)[0] == "2024-05-06 08:00:00"


def test_date_planned_follows_lines_and_deletions_bump_the_order(admin, clock):
    po = make_po(admin, [("PEN-GEL05-RED", 10), ("PEN-GEL05-BLU", 10)])
    Line = admin.env["purchase.order.line"]
    first, second = Line.search([("order_id", "=", po)], order="id")
    Line.write([first], {"date_planned": "2024-06-01 00:00:00"})
    Line.write([second], {"date_planned": "2024-05-25 00:00:00"})
    assert admin.env["purchase.order"].read([po], ["date_planned"])[0]["date_planned"] == "2024-05-25 00:00:00"
    clock.advance(5)
    Line.unlink([second])
    row = admin.env["purchase.order"].read([po], ["date_planned", "write_date"])[0]
    assert row["date_planned"] == "2024-06-01 00:00:00" and row["write_date"] == "2024-05-06 08:00:05"
    # date_planned is writable on the order itself
    admin.env["purchase.order"].write([po], {"date_planned": "2024-07-01 09:30:00"})
    assert admin.env["purchase.order"].read([po], ["date_planned"])[0]["date_planned"] == "2024-07-01 09:30:00"


def test_polling_query_pages_by_write_date_then_id(admin, clock):
    first = make_po(admin)
    second = make_po(admin)
    clock.advance(60)
    third = make_po(admin)
    clock.advance(60)
    admin.env["purchase.order"].write([first], {"origin": "edited"})
    rows = admin.env["purchase.order"].search_read(
        [("write_date", ">=", "2024-05-06 08:00:00")], ["write_date"], order="write_date asc, id asc", limit=2
    )
    assert [(r["id"], r["write_date"]) for r in rows] == [(second, "2024-05-06 08:00:00"), (third, "2024-05-06 08:01:00")]
    rows = admin.env["purchase.order"].search_read([("write_date", ">", "2024-05-06 08:01:00")], ["write_date"], order="write_date asc, id asc")
    assert [(r["id"], r["write_date"]) for r in rows] == [(first, "2024-05-06 08:02:00")]
    lines = admin.env["purchase.order.line"].search_read([("write_date", ">=", "2024-05-06 08:01:00")], ["order_id"], load="_classic_write")
    assert [ln["order_id"] for ln in lines] == [third]
