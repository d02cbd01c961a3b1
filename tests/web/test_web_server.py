"""The web client's HTTP server against a running `system()`: what the page is told, the
loopback-only demo sign-in, and confirmation letters rendered from verified events only."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pypdf import PdfReader

from orderchat.client import OrderchatClient
from orderchat.runtime.settings import Settings
from orderchat.schemas.orders import OrderLine
from orderchat.security.keys import KeyStore
from orderchat.web.component import offers_demo
from orderchat.web.server import DemoParty, WebConfig, WebServer

from .conftest import WebSystem


async def get_json(url: str) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.json() if response.status == 200 else {}
        return response.status, body, dict(response.headers)


async def test_the_page_learns_tenant_websocket_and_auth_and_nothing_else(web_system: WebSystem) -> None:
    status, config, headers = await get_json(f"{web_system.url}config.json")
    assert status == 200
    assert config == {
        "tenant": web_system.settings.tenant, "websocket_url": web_system.running.info["websocket_url"],
        "auth": True, "demo": True,
    }
    # The page may talk to this server and to the NATS WebSocket listener, nowhere else.
    assert f"connect-src 'self' {config['websocket_url']};" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, demo, _ = await get_json(f"{web_system.url}demo.json")
    parties = {p["user"]: p for p in demo["parties"]}
    assert status == 200 and set(parties) == {"lin", "sunrise-paper", "hongyun-pens", "everything-office", "ops"}
    assert all(p["device"] == "web" and p["seed"].startswith("SU") for p in parties.values())


def test_demo_keys_are_offered_for_a_local_embedded_server_only(tmp_path) -> None:
    local = {"nats_pid": 1, "auth_file": str(tmp_path / "auth.conf")}
    assert offers_demo(Settings(home=tmp_path, host="127.0.0.1"), local)
    assert not offers_demo(Settings(home=tmp_path, host="0.0.0.0"), local)
    assert not offers_demo(Settings(home=tmp_path, host="127.0.0.1", nats_url="nats://elsewhere:4222"), {})


async def test_demo_keys_are_refused_to_a_request_from_another_machine(tmp_path) -> None:
    party = DemoParty("lin", "Lin Wei", "buyer", "web", "SUAEXAMPLE")
    server = WebServer(WebConfig("shop", "ws://127.0.0.1:1", auth=True, demo=[party]), "127.0.0.1", 0)
    app = server.app()

    def from_peer(host: str) -> web.Request:
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda key, default=None: (host, 50000) if key == "peername" else default
        return make_mocked_request("GET", "/demo.json", app=app, transport=transport)

    with pytest.raises(web.HTTPNotFound):
        await server._demo(from_peer("192.0.2.7"))
    answer = await server._demo(from_peer("127.0.0.1"))
    assert json.loads(answer.body)["parties"][0]["user"] == "lin"


async def test_letter_is_rendered_from_verified_events_and_refused_for_altered_ones(web_system: WebSystem) -> None:
    settings = web_system.settings
    store = KeyStore.of_home(settings.home)
    lin = await OrderchatClient.connect(
        web_system.running.nats_url, "lin", tenant=settings.tenant, nkeys_seed=str(store.party_path(settings.tenant, "lin", "main")),
    )
    try:
        lines = [OrderLine(line_id="1", sku="PAP-A4-80", description="A4复印纸 80克 (500张)", quantity=Decimal(30), unit_price=Decimal(22))]
        created = await lin.orders.create("sunrise-paper", lines)
        events = await lin.orders.events(created.order.id)
    finally:
        await lin.close()
    body = events.model_dump_json().encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{web_system.url}letter?format=pdf", data=body) as response:
            assert response.status == 200 and response.content_type == "application/pdf"
            assert f'filename="{created.order.id}-r1.pdf"' in response.headers["Content-Disposition"]
            pdf = await response.read()
        async with http.post(f"{web_system.url}letter?format=html", data=body) as response:
            assert "A4复印纸 80克 (500张)" in await response.text()
        altered = json.loads(body)
        altered["events"][0]["terms"]["lines"][0]["quantity"] = "3000"
        async with http.post(f"{web_system.url}letter?format=pdf", data=json.dumps(altered)) as response:
            assert response.status == 422 and "altered" in await response.text()
        async with http.post(f"{web_system.url}letter?format=pdf", data=b"{not json") as response:
            assert response.status == 400
        async with http.post(f"{web_system.url}letter?format=exe", data=body) as response:
            assert response.status == 400
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert created.order.id in text and "A4复印纸" in text
