"""The wire protocol as odoorpc and raw JSON-RPC clients see it (ODOO.md §1-3)."""

from __future__ import annotations

import odoorpc
import pytest

from tests.demo_erp.conftest import API_KEYS, execute_kw, jsonrpc, make_po, rpc_error


def test_version_info_and_common_version(erp):
    answer = jsonrpc(erp.url, "/web/webclient/version_info", {})
    assert answer.status == 200
    expected = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""], "server_serie": "17.0", "protocol_version": 1}
    assert answer.body == {"jsonrpc": "2.0", "id": 7, "result": expected}
    assert jsonrpc(erp.url, "/jsonrpc", {"service": "common", "method": "version", "args": []}).body["result"] == expected


def test_odoorpc_login_reads_version_and_context(login):
    odoo = login("admin")
    assert odoo.version == "17.0"
    assert odoo.env.uid == 2
    assert odoo.env.context == {"lang": "en_US", "tz": "Asia/Shanghai", "uid": 2}
    assert odoo.env.user.name == "Administrator"
    assert odoo.db.list() == ["demo"]


def test_common_login_returns_uid_or_false(erp):
    def login(user, pwd):
        return jsonrpc(erp.url, "/jsonrpc", {"service": "common", "method": "login", "args": ["demo", user, pwd]}).body["result"]

    assert login("buyer", "buyer") == 3
    assert login("buyer", "wrong") is False
    assert login("nobody", "buyer") is False
    assert login("buyer", API_KEYS["buyer"]) == 3  # an API key works in the password slot
    auth = jsonrpc(erp.url, "/jsonrpc", {"service": "common", "method": "authenticate", "args": ["demo", "viewer", "viewer", {}]})
    assert auth.body["result"] == 4


def test_wrong_password_makes_odoorpc_raise(erp):
    odoo = odoorpc.ODOO("127.0.0.1", port=erp.port)
    with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
        odoo.login("demo", "admin", "not-the-password")


def test_api_key_in_password_slot_with_odoorpc(login):
    odoo = login("buyer", API_KEYS["buyer"])
    assert odoo.env["purchase.order"].search_count([]) == 0


def test_bad_credentials_on_object_calls_are_access_denied(erp):
    answer = jsonrpc(erp.url, "/jsonrpc", {"service": "object", "method": "execute_kw", "args": ["demo", 2, "wrong", "res.partner", "search", [[]], {}]})
    assert answer.status == 200
    assert answer.body["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert answer.body["error"]["data"]["message"] == "Access Denied"
    # a uid that does not match the password's user is refused too
    answer = jsonrpc(erp.url, "/jsonrpc", {"service": "object", "method": "execute_kw", "args": ["demo", 3, "admin", "res.partner", "search", [[]], {}]})
    assert answer.body["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


def test_error_envelope_shape(erp):
    answer = execute_kw(erp.url, "admin", "no.such.model", "search", [[]])
    assert answer.status == 200
    body = answer.body
    assert set(body) == {"jsonrpc", "id", "error"} and body["id"] == 7
    error = body["error"]
    assert error["code"] == 200
    assert error["message"] == "Odoo Server Error"
    data = error["data"]
    assert set(data) >= {"name", "message", "arguments", "context", "debug"}
    assert data["name"] == "odoo.exceptions.UserError"
    assert data["message"] == "Object no.such.model doesn't exist"
    assert data["arguments"] == ["Object no.such.model doesn't exist"]
    assert data["context"] == {}
    assert data["debug"].startswith("Traceback (most recent call last):")
    assert data["debug"].rstrip().endswith("odoo.exceptions.UserError: Object no.such.model doesn't exist")


def test_none_result_has_no_result_key(erp, admin):
    po = make_po(admin)
    answer = execute_kw(erp.url, "admin", "purchase.order", "button_cancel", [[po]])
    assert answer.body == {"jsonrpc": "2.0", "id": 7}
    assert admin.env["purchase.order"].read([po], ["state"])[0]["state"] == "cancel"


def test_private_and_unknown_methods(admin):
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.execute_kw("purchase.order", "_approval_allowed", [[1]])
    assert rpc_error(excinfo) == ("odoo.exceptions.AccessError", "Private methods (such as _approval_allowed) cannot be called remotely.")
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.execute_kw("purchase.order", "fly_to_the_moon", [[1]])
    assert rpc_error(excinfo) == ("builtins.AttributeError", "The method 'fly_to_the_moon' does not exist on the model 'purchase.order'")
    # the private-name check comes before the model lookup, as in odoo/service/model.py
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.execute_kw("no.such.model", "_secret", [])
    assert rpc_error(excinfo)[0] == "odoo.exceptions.AccessError"


def test_unknown_database(erp):
    answer = jsonrpc(erp.url, "/jsonrpc", {"service": "common", "method": "login", "args": ["nope", "admin", "admin"]})
    assert answer.body["error"]["data"]["name"] == "psycopg2.OperationalError"
    assert 'database "nope" does not exist' in answer.body["error"]["data"]["message"]


def test_model_discovery_and_external_ids(admin):
    assert "purchase.order" in admin.env
    assert "purchase.order.line" in admin.env
    assert "sale.order" not in admin.env
    manager = admin.env.ref("purchase.group_purchase_manager")
    assert manager._name == "res.groups"
    assert admin.env["res.groups"].read(manager.ids, ["full_name"])[0]["full_name"] == "Purchase / Administrator"
    company = admin.env.ref("base.main_company")
    assert company.name == "Inkwell Stationery"
    assert company.currency_id.name == "CNY"
    with pytest.raises(odoorpc.error.RPCError) as excinfo:
        admin.env.ref("purchase.no_such_thing")
    assert rpc_error(excinfo) == ("builtins.ValueError", "External ID not found in the system: purchase.no_such_thing")


def test_fields_get_describes_every_field(admin):
    fields = admin.execute_kw("purchase.order", "fields_get", [], {"attributes": ["type", "string", "readonly", "required", "relation", "selection"]})
    assert all("type" in desc and "string" in desc for desc in fields.values())
    assert fields["partner_id"] == {"type": "many2one", "string": "Vendor", "readonly": False, "required": True, "relation": "res.partner"}
    assert fields["order_line"]["relation"] == "purchase.order.line"
    assert fields["state"]["selection"] == [["draft", "RFQ"], ["sent", "RFQ Sent"], ["to approve", "To Approve"], ["purchase", "Purchase Order"], ["done", "Locked"], ["cancel", "Cancelled"]]
    assert fields["amount_total"]["readonly"] is True
    for name in ("id", "display_name", "create_date", "write_date", "name", "date_order", "date_approve", "date_planned", "notes",
                 "currency_id", "amount_untaxed", "amount_tax", "invoice_status", "user_id", "company_id", "priority",
                 "mail_reminder_confirmed", "receipt_status", "partner_ref", "origin"):
        assert name in fields, name
    line_fields = admin.execute_kw("purchase.order.line", "fields_get", [], {"attributes": ["type"]})
    for name in ("name", "sequence", "product_id", "product_qty", "product_uom", "price_unit", "discount", "taxes_id",
                 "date_planned", "price_subtotal", "price_total", "qty_received", "qty_invoiced", "order_id", "state",
                 "display_type", "partner_id", "currency_id"):
        assert name in line_fields, name


def test_browse_through_odoorpc(admin):
    po = make_po(admin, [("PAP-A4-80", 5)], supplier="Sunrise Paper Mill")
    order = admin.env["purchase.order"].browse(po)
    assert order.name == "P00001"
    assert order.partner_id.name == "Sunrise Paper Mill"
    assert order.amount_total == pytest.approx(5 * 22.0 * 1.13)
    assert [line.product_qty for line in order.order_line] == [5.0]
    with pytest.raises(ValueError, match="There is no 'purchase.order' record with IDs \\[999\\]"):
        admin.env["purchase.order"].browse(999)


def test_web_session_authenticate_and_call_kw(erp):
    import http.cookiejar
    import json
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}).encode()
        request = urllib.request.Request(erp.url + path, data=body, headers={"Content-Type": "application/json"})
        return json.loads(opener.open(request, timeout=5).read())

    expired = call("/web/dataset/call_kw", {"model": "res.partner", "method": "search_count", "args": [[]], "kwargs": {}})
    assert expired["error"]["code"] == 100 and expired["error"]["message"] == "Odoo Session Expired"
    info = call("/web/session/authenticate", {"db": "demo", "login": "buyer", "password": "buyer"})["result"]
    assert info["uid"] == 3 and info["db"] == "demo" and info["username"] == "buyer"
    answer = call("/web/dataset/call_kw/res.partner/search_count", {"model": "res.partner", "method": "search_count", "args": [[("supplier_rank", ">", 0)]], "kwargs": {}})
    assert answer["result"] == 2
