"""The outgoing "Send Webhook Notification" automation on purchase.order."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from orderchat.integrations.demo_erp import DemoErp
from tests.demo_erp.conftest import API_KEYS, FakeClock


class Receiver:
    """A local HTTP endpoint recording what the ERP posts (optionally slow)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.delay = delay
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        payload = json.loads(await request.read())
        if self.delay:
            await asyncio.sleep(self.delay)
        await self.received.put(payload)
        return web.Response(text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def call(session: aiohttp.ClientSession, url: str, model: str, method: str, body: dict[str, Any]) -> Any:
    async with session.post(f"{url}/json/2/{model}/{method}", json=body, headers={"Authorization": f"bearer {API_KEYS['admin']}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_create_write_and_line_changes_post_webhooks():
    async with Receiver() as receiver, aiohttp.ClientSession() as session:
        clock = FakeClock()
        erp = DemoErp(":memory:", webhook_url=receiver.url, clock=clock)
        url = await erp.start()
        try:
            po = await call(session, url, "purchase.order", "create", {"vals_list": {"partner_id": 7}})
            first = await asyncio.wait_for(receiver.received.get(), 5)
            assert first == {
                "_action": "Send Webhook Notification(#1)", "_id": po, "_model": "purchase.order",
                "state": "draft", "write_date": "2024-05-06 08:00:00",
            }
            clock.advance(3)
            await call(session, url, "purchase.order", "button_confirm", {"ids": [po]})
            confirmed = await asyncio.wait_for(receiver.received.get(), 5)
            assert (confirmed["_id"], confirmed["state"], confirmed["write_date"]) == (po, "purchase", "2024-05-06 08:00:03")
            clock.advance(3)
            product = (await call(session, url, "product.product", "search", {"domain": [("default_code", "=", "PEN-GEL05-RED")]}))[0]
            await call(session, url, "purchase.order.line", "create", {"vals_list": {"order_id": po, "product_id": product, "product_qty": 5}})
            line_change = await asyncio.wait_for(receiver.received.get(), 5)
            assert (line_change["_id"], line_change["write_date"]) == (po, "2024-05-06 08:00:06")
            # reads and other models post nothing
            await call(session, url, "purchase.order", "read", {"ids": [po], "fields": ["name"]})
            await call(session, url, "res.partner", "write", {"ids": [7], "vals": {"phone": "123"}})
            await asyncio.sleep(0.2)
            assert receiver.received.empty()
        finally:
            await erp.stop()


async def test_webhook_failures_never_fail_or_slow_the_call():
    async with Receiver(delay=2.0) as slow, aiohttp.ClientSession() as session:
        for hook in (slow.url, "http://127.0.0.1:9/unreachable"):
            erp = DemoErp(":memory:", webhook_url=hook)
            url = await erp.start()
            try:
                started = time.monotonic()
                po = await call(session, url, "purchase.order", "create", {"vals_list": {"partner_id": 7}})
                assert po == 1
                assert time.monotonic() - started < 0.5  # fire-and-forget
            finally:
                stop_started = time.monotonic()
                await erp.stop()
                assert time.monotonic() - stop_started < 2.0  # the 1 s timeout bounds a hanging receiver
        assert slow.received.empty()  # the slow receiver was cut off by the timeout
