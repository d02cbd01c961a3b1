"""Odoo 19 style JSON-2: POST /json/2/<model>/<method>, bearer API key, raw JSON answers."""

from __future__ import annotations

from tests.demo_erp.conftest import API_KEYS, PASSWORDS, json2, post_json


def test_search_read_create_and_button(erp):
    key = API_KEYS["buyer"]
    suppliers = json2(erp.url, "res.partner", "search_read", {"domain": [("supplier_rank", ">", 0)], "fields": ["name"], "order": "name"}, key)
    assert suppliers.status == 200
    assert [s["name"] for s in suppliers.body] == ["Hongyun Pen Co.", "Sunrise Paper Mill"]
    product = json2(erp.url, "product.product", "search", {"domain": [("default_code", "=", "PEN-GEL05-BLU")]}, key).body
    created = json2(erp.url, "purchase.order", "create", {"vals_list": [{"partner_id": suppliers.body[0]["id"], "order_line": [[0, 0, {"product_id": product[0], "product_qty": 24}]]}]}, key)
    assert created.status == 200 and created.body == [1]
    assert json2(erp.url, "purchase.order", "button_confirm", {"ids": created.body}, key).body is True
    read = json2(erp.url, "purchase.order", "read", {"ids": created.body, "fields": ["name", "state", "user_id", "amount_total"]}, key)
    assert read.body == [{"id": 1, "name": "P00001", "state": "purchase", "user_id": [3, "Lin Wei"], "amount_total": 32.54}]
    # a method returning None answers JSON null
    assert json2(erp.url, "purchase.order", "button_done", {"ids": created.body}, key).body is None
    # the context travels in the body
    zh = json2(erp.url, "product.product", "read", {"ids": product, "fields": ["display_name"], "context": {"lang": "zh_CN"}}, key)
    assert zh.body == [{"id": product[0], "display_name": "[PEN-GEL05-BLU] 中性笔 0.5mm (蓝色)"}]


def test_bad_or_missing_key_is_401(erp):
    for key in ("not-a-key", PASSWORDS["admin"], None):
        answer = json2(erp.url, "res.partner", "search", {"domain": []}, key)
        assert answer.status == 401
        assert answer.body["name"] == "werkzeug.exceptions.Unauthorized"
        assert answer.body["message"] == "Invalid apikey"
        assert set(answer.body) == {"name", "message", "arguments", "context", "debug"}


def test_unknown_model_or_method_is_404(erp):
    key = API_KEYS["admin"]
    answer = json2(erp.url, "no.such.model", "search", {"domain": []}, key)
    assert answer.status == 404 and answer.body["message"] == "the model 'no.such.model' does not exist"
    answer = json2(erp.url, "purchase.order", "fly", {}, key)
    assert answer.status == 404 and answer.body["message"] == "The method 'fly' does not exist on the model 'purchase.order'"


def test_wrong_arguments_are_422(erp):
    key = API_KEYS["admin"]
    answer = json2(erp.url, "res.partner", "search", {"domian": []}, key)
    assert answer.status == 422 and answer.body["name"] == "werkzeug.exceptions.UnprocessableEntity"
    assert "domian" in answer.body["message"] or "domain" in answer.body["message"]
    answer = json2(erp.url, "res.partner", "search", {"ids": [1], "domain": []}, key)
    assert answer.status == 422 and answer.body["message"] == "cannot call res.partner.search with ids"


def test_odoo_exceptions_map_to_status_codes(erp):
    admin, viewer = API_KEYS["admin"], API_KEYS["viewer"]
    po = json2(erp.url, "purchase.order", "create", {"vals_list": {"partner_id": 6}}, admin).body
    assert po == 1
    refused = json2(erp.url, "purchase.order", "unlink", {"ids": [po]}, admin)
    assert refused.status == 422
    assert refused.body["name"] == "odoo.exceptions.UserError"
    assert refused.body["message"] == "In order to delete a purchase order, you must cancel it first."
    forbidden = json2(erp.url, "purchase.order", "write", {"ids": [po], "vals": {"notes": "x"}}, viewer)
    assert forbidden.status == 403 and forbidden.body["name"] == "odoo.exceptions.AccessError"
    private = json2(erp.url, "purchase.order", "_approval_allowed", {"ids": [po]}, admin)
    assert private.status == 403 and private.body["name"] == "odoo.exceptions.AccessError"
    missing = json2(erp.url, "purchase.order", "write", {"ids": [99], "vals": {"notes": "x"}}, admin)
    assert missing.status == 404 and missing.body["name"] == "odoo.exceptions.MissingError"
    invalid = json2(erp.url, "purchase.order", "write", {"ids": [po], "vals": {"colour": "x"}}, admin)
    assert invalid.status == 500 and invalid.body["name"] == "builtins.ValueError"
    assert invalid.body["message"] == "Invalid field 'colour' on model 'purchase.order'"


def test_database_header_and_bad_body(erp):
    key = API_KEYS["admin"]
    ok = post_json(f"{erp.url}/json/2/res.partner/search_count", {"domain": []}, {"Authorization": f"bearer {key}", "X-Odoo-Database": "demo"})
    assert ok.status == 200 and isinstance(ok.body, int)
    other = post_json(f"{erp.url}/json/2/res.partner/search_count", {"domain": []}, {"Authorization": f"bearer {key}", "X-Odoo-Database": "prod"})
    assert other.status == 404
    not_an_object = post_json(f"{erp.url}/json/2/res.partner/search_count", [1, 2], {"Authorization": f"bearer {key}"})
    assert not_an_object.status == 400
