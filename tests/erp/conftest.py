"""Fixtures for the ERP connector: a demo ERP per test on its own thread (SQLite file, so it
can be stopped and started again on the same port), the demo parties in the test's tenant,
the connector (`ErpService`) pointed at both, and the ERP driven through the real odoorpc
client. odoorpc is synchronous: tests call it through `asyncio.to_thread` so the connector
keeps running on the loop meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
import odoorpc
import pytest

from orderchat.client import OrderchatClient
from orderchat.integrations.demo_erp import SEED_USERS, ErpThread, run_in_thread
from orderchat.integrations.odoo.config import parse_erp_url
from orderchat.integrations.odoo.service import ErpService
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import DEMO_USERS, upsert_user
from orderchat.services.framework.context import ServiceContext

API_KEYS = {u.login: u.api_key for u in SEED_USERS}
PASSWORDS = {u.login: u.password for u in SEED_USERS}


class Erp:
    """The demo ERP of one test, restartable on the same port and database file."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.thread: ErpThread | None = run_in_thread(str(db_file))
        self.port = self.thread.port

    def stop(self) -> None:
        assert self.thread is not None
        self.thread.stop()
        self.thread = None

    def start(self) -> None:
        self.thread = run_in_thread(str(self.db_file), port=self.port)

    def url(self, login: str = "buyer", secret: str | None = None, port: int | None = None, **query: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"odoo://{login}:{secret or API_KEYS[login]}@127.0.0.1:{port or self.port}/demo" + (f"?{q}" if q else "")

    def odoo(self, login: str = "admin") -> odoorpc.ODOO:
        client = odoorpc.ODOO("127.0.0.1", port=self.port, timeout=10)
        client.login("demo", login, PASSWORDS[login])
        return client


@pytest.fixture
def erp(tmp_path: Path):
    server = Erp(tmp_path / "erp.sqlite3")
    yield server
    if server.thread is not None:
        server.stop()


@pytest.fixture
async def parties(admin_nc: nats.NATS, tenant: str, services: ServiceHost) -> None:
    """The demo parties, each with its main device's session open, as a user who has the app
    installed: a device's inbox starts when its session is first opened (what came before is
    in history), so a card sent before that would never reach `card_in_inbox`."""
    for user in DEMO_USERS:
        await upsert_user(admin_nc.jetstream(), tenant, user)
        await OrderchatClient.over(admin_nc, user.id, tenant).open_session()


ConnectorMaker = Callable[..., Any]


@pytest.fixture
async def connector(erp: Erp, admin_nc: nats.NATS, tenant: str, services: ServiceHost, parties: None) -> AsyncIterator[ConnectorMaker]:
    """`await connector(login="buyer", poll=0.2, webhook=False, port=None)` starts an ErpService
    (`port`: reach the ERP there instead, e.g. through a proxy)."""
    started: list[ErpService] = []

    async def make(login: str = "buyer", secret: str | None = None, poll: float = 0.2, webhook: bool = False,
                   port: int | None = None, **query: str) -> ErpService:
        config = parse_erp_url(erp.url(login, secret, port, **query), poll_interval=poll)
        service = ErpService(config, webhook_url="http://127.0.0.1:0/erp/webhook" if webhook else None)
        await service.start(ServiceContext(nc=admin_nc, js=admin_nc.jetstream(), options={"tenant": tenant}))
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking odoorpc call, off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def make_po(odoo: odoorpc.ODOO, lines: list[tuple[str, float]], supplier: str = "Hongyun Pen Co.", send: bool = True) -> int:
    """An RFQ with (sku, qty) lines, marked as sent the way Odoo's "Send by email" does."""
    partner = odoo.env["res.partner"].search([("name", "=", supplier)])[0]
    products = odoo.env["product.product"]
    order_line = [(0, 0, {"product_id": products.search([("default_code", "=", sku)])[0], "product_qty": qty}) for sku, qty in lines]
    po_id = odoo.env["purchase.order"].create({"partner_id": partner, "order_line": order_line})
    if send:
        odoo.execute_kw("purchase.order", "message_post", [[po_id]], {"body": "RFQ sent", "context": {"mark_rfq_as_sent": True}})
    return po_id


def read_po(odoo: odoorpc.ODOO, po_id: int) -> dict[str, Any]:
    po = odoo.execute_kw("purchase.order", "read", [[po_id]], {"fields": ["state", "name", "partner_ref"]})[0]
    po["lines"] = odoo.execute_kw(
        "purchase.order.line", "search_read", [[["order_id", "=", po_id]]],
        {"fields": ["product_id", "product_qty", "price_unit", "date_planned", "name"]},
    )
    po["notes"] = odoo.execute_kw(
        "mail.message", "search_read", [[["model", "=", "purchase.order"], ["res_id", "=", po_id], ["message_type", "=", "comment"]]],
        {"fields": ["body", "subtype_id"]},
    )
    return po


async def wait_for(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    """Poll an async or sync condition until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


async def card_in_inbox(client: OrderchatClient, timeout: float = 20.0, revision: int | None = None):
    """The next order card (of `revision`, if given) in the client's inbox."""
    async def run():
        async with client.inbox(follow=True, idle=0.2) as inbox:
            async for item in inbox:
                body = item.message.body if item.message is not None else None
                if getattr(body, "kind", None) == "order_card" and (revision is None or body.card.revision == revision):
                    return body.card

    try:
        return await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        orders = [(o.id, o.erp_ref, str(o.state), o.revision) for o in await client.orders.list()]
        raise AssertionError(
            f"no order card for {client.user} within {timeout}s; its orders: {orders}; {await _inbox_state(client)}"
        ) from None


async def _inbox_state(client: OrderchatClient) -> str:
    """What the device's inbox follows and holds, and the conversations' ends: enough to tell
    a card never delivered to the inbox from one delivered and not read."""
    session = await client.open_session()
    info = await client.js.consumer_info(session.stream, session.consumer)
    convs = [(c.conversation.id, c.last_seq, c.unread) for c in (await client.conversations()).conversations]
    return (
        f"inbox consumer filters {info.config.filter_subjects}, delivered {info.delivered}, ack floor {info.ack_floor}, "
        f"pending {info.num_pending}, ack pending {info.num_ack_pending}, waiting {info.num_waiting}; conversations {convs}"
    )


async def buyer_event(client: OrderchatClient, event: str, timeout: float = 20.0, order_id: str | None = None):
    """The next order event of kind `event` (erp_confirmed, erp_error, ...) in the buyer's
    inbox, of `order_id` if given."""
    async def run():
        async with client.inbox(follow=True, idle=0.2) as inbox:
            async for item in inbox:
                e = item.event
                if e is not None and e.type == "order_event" and e.event == event and order_id in (None, e.order_id):
                    return e

    return await asyncio.wait_for(run(), timeout)
