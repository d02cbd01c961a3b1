"""Fixtures for the demo ERP: a server per test on its own thread, real odoorpc clients,
raw JSON-RPC / JSON-2 helpers, and a clock the tests move by hand (write_date has a
one-second resolution, so tests advance the clock instead of sleeping)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import odoorpc
import pytest

from orderchat.integrations.demo_erp import SEED_USERS, ErpThread, run_in_thread

PASSWORDS = {u.login: u.password for u in SEED_USERS}
API_KEYS = {u.login: u.api_key for u in SEED_USERS}


class FakeClock:
    def __init__(self, start: datetime = datetime(2024, 5, 6, 8, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)

    def stamp(self) -> str:
        return self.now.strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def erp(clock: FakeClock) -> Iterator[ErpThread]:
    with run_in_thread(":memory:", clock=clock) as server:
        yield server


Login = Callable[..., odoorpc.ODOO]


@pytest.fixture
def login(erp: ErpThread) -> Login:
    """odoorpc client logged in as a seeded user (admin, buyer, viewer)."""

    def make(user: str = "admin", secret: str | None = None) -> odoorpc.ODOO:
        client = odoorpc.ODOO("127.0.0.1", port=erp.port, timeout=10)
        client.login("demo", user, secret if secret is not None else PASSWORDS[user])
        return client

    return make


@pytest.fixture
def admin(login: Login) -> odoorpc.ODOO:
    return login("admin")


@dataclass
class Json2Answer:
    status: int
    body: Any


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None) -> Json2Answer:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Json2Answer(response.status, json.loads(response.read() or b"null"))
    except urllib.error.HTTPError as exc:
        return Json2Answer(exc.code, json.loads(exc.read() or b"null"))


def jsonrpc(base_url: str, path: str, params: dict[str, Any]) -> Json2Answer:
    """A raw JSON-RPC 2.0 call, to look at the envelope odoorpc hides."""
    return post_json(base_url + path, {"jsonrpc": "2.0", "method": "call", "params": params, "id": 7})


def execute_kw(base_url: str, login: str, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Json2Answer:
    uid = {"admin": 2, "buyer": 3, "viewer": 4}[login]
    return jsonrpc(
        base_url, "/jsonrpc",
        {"service": "object", "method": "execute_kw", "args": ["demo", uid, PASSWORDS[login], model, method, args, kwargs or {}]},
    )


def json2(base_url: str, model: str, method: str, body: dict[str, Any], key: str | None) -> Json2Answer:
    headers = {"Authorization": f"bearer {key}"} if key is not None else {}
    return post_json(f"{base_url}/json/2/{model}/{method}", body, headers)


def partner_id(odoo: odoorpc.ODOO, name: str) -> int:
    return odoo.env["res.partner"].search([("name", "=", name)])[0]


def product_id(odoo: odoorpc.ODOO, sku: str) -> int:
    return odoo.env["product.product"].search([("default_code", "=", sku)])[0]


def make_po(odoo: odoorpc.ODOO, lines: list[tuple[str, float]] | None = None, supplier: str = "Hongyun Pen Co.", **vals: Any) -> int:
    """An RFQ with (sku, qty) lines; prices come from the products' cost."""
    lines = lines if lines is not None else [("PEN-GEL05-RED", 100)]
    order_line = [(0, 0, {"product_id": product_id(odoo, sku), "product_qty": qty}) for sku, qty in lines]
    return odoo.env["purchase.order"].create({"partner_id": partner_id(odoo, supplier), "order_line": order_line, **vals})


def rpc_error(excinfo: pytest.ExceptionInfo[odoorpc.error.RPCError]) -> tuple[str, str]:
    """(data.name, data.message) of an RPCError raised by odoorpc."""
    data = excinfo.value.info["data"]
    return data["name"], data["message"]
