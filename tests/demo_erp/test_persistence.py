"""The SQLite file keeps everything across restarts; seeding happens once."""

from __future__ import annotations

import sqlite3

from orderchat.integrations.demo_erp import SEED_USERS, run_in_thread
from tests.demo_erp.conftest import FakeClock, make_po

import odoorpc


def connect(port: int, user: str = "admin") -> odoorpc.ODOO:
    client = odoorpc.ODOO("127.0.0.1", port=port)
    client.login("demo", user, user)
    return client


def test_state_survives_restart(tmp_path):
    path = tmp_path / "erp.sqlite3"
    clock = FakeClock()
    with run_in_thread(path, clock=clock) as erp:
        odoo = connect(erp.port)
        po = make_po(odoo, [("PAP-A4-80", 40)], supplier="Sunrise Paper Mill")
        odoo.env["purchase.order"].button_confirm([po])
        msg = odoo.execute_kw("purchase.order", "message_post", [[po]], {"body": "Thanks!", "message_type": "comment"})
        partners = odoo.env["res.partner"].search_count([])
        before = odoo.env["purchase.order"].read([po], ["name", "state", "amount_total", "write_date", "order_line"])[0]
    with run_in_thread(path, clock=clock) as erp:
        odoo = connect(erp.port)
        assert odoo.env["purchase.order"].read([po], ["name", "state", "amount_total", "write_date", "order_line"])[0] == before
        assert odoo.env["mail.message"].read([msg], ["body"])[0]["body"] == "<p>Thanks!</p>"
        assert odoo.env["res.partner"].search_count([]) == partners  # not seeded twice
        assert odoo.env["purchase.order"].read([make_po(odoo)], ["name"])[0]["name"] == "P00002"
        assert connect(erp.port, "buyer").env.uid == 3  # credentials persisted (hashed)
    with sqlite3.connect(path) as conn:
        users = [row[0] for row in conn.execute("SELECT data FROM records WHERE model = 'res.users'")]
    # secrets are stored hashed: neither a password nor an API key appears in clear
    assert users and all('"admin"' not in u.replace('"login": "admin"', "") for u in users)
    assert not any(user.api_key in u for u in users for user in SEED_USERS)


def test_memory_databases_are_independent():
    with run_in_thread(":memory:") as one, run_in_thread(":memory:") as two:
        make_po(connect(one.port))
        assert connect(one.port).env["purchase.order"].search_count([]) == 1
        assert connect(two.port).env["purchase.order"].search_count([]) == 0
