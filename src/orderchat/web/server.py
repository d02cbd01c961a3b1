"""The web client's HTTP server: the built static files, the page's configuration, the
loopback-only demo sign-in, and confirmation letters.

The browser talks to NATS itself (over nats-server's WebSocket listener, with its user's own
nkey), so this server holds no chat or order API and no party's authority:
    GET  /                the client (index.html, app.js, app.css)
    GET  /config.json     tenant, NATS WebSocket URL, whether authorization is on
    GET  /demo.json       demo parties with their `web` device seeds, ONLY when `orderchat up`
                          runs on loopback and the request comes from loopback (else 404)
    POST /letter?format=  an order's events as the browser fetched them with its own
                          credentials (`order.events` reply) -> verified -> PDF or HTML letter.
                          A pure function of its input: it reads nothing and can leak nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from orderchat.schemas.orders import OrderEventsReply
from orderchat.services.orders import letter
from orderchat.services.orders.evidence import key_book, verify_log

from .assets import check_built

LETTER_FORMATS = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
MAX_LETTER_REQUEST = 8 * 1024 * 1024


@dataclass(frozen=True)
class DemoParty:
    user: str
    display_name: str
    role: str
    device: str
    seed: str


@dataclass
class WebConfig:
    tenant: str
    websocket_url: str
    auth: bool
    demo: list[DemoParty] = field(default_factory=list)

    def public(self) -> dict[str, object]:
        return {"tenant": self.tenant, "websocket_url": self.websocket_url, "auth": self.auth, "demo": bool(self.demo)}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebServer:
    """aiohttp on `host:port` (0 = any free port; the bound one is in `url`)."""

    def __init__(self, config: WebConfig, host: str, port: int, static: Path | None = None) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.static = check_built(static)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_LETTER_REQUEST, middlewares=[self._headers])
        app.router.add_get("/", self._index)
        app.router.add_get("/config.json", self._config)
        app.router.add_get("/demo.json", self._demo)
        app.router.add_post("/letter", self._letter)
        app.router.add_static("/static/", self.static, append_version=False)
        return app

    async def start(self) -> "WebServer":
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _headers(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        # Everything the page loads comes from here; it talks to this NATS WebSocket only.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; connect-src 'self' {self.config.websocket_url}; img-src 'self' data: blob:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.static / "index.html", headers={"Cache-Control": "no-cache"})

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response(self.config.public(), headers={"Cache-Control": "no-store"})

    async def _demo(self, request: web.Request) -> web.Response:
        if not self.config.demo or not is_loopback(request.remote):
            raise web.HTTPNotFound(text="demo sign-in is offered on loopback only")
        parties = [party.__dict__ for party in self.config.demo]
        return web.json_response({"parties": parties}, headers={"Cache-Control": "no-store"})

    async def _letter(self, request: web.Request) -> web.Response:
        fmt = request.query.get("format", "pdf")
        if fmt not in LETTER_FORMATS:
            raise web.HTTPBadRequest(text=f"format must be one of {', '.join(LETTER_FORMATS)}")
        try:
            reply = OrderEventsReply.model_validate_json(await request.read())
        except ValidationError as exc:
            raise web.HTTPBadRequest(text=f"not an order.events reply: {exc.error_count()} problem(s)") from None
        verification = verify_log(reply.order_id, reply.events, key_book(reply.buyer, reply.supplier))
        if not verification.ok or verification.order is None:
            raise web.HTTPUnprocessableEntity(text=f"the events do not verify: {verification.problem or 'empty log'}")
        # PDF rendering with an embedded CJK font takes a moment: keep the loop free.
        body = await asyncio.to_thread(letter.render, reply, verification, fmt)
        name = f"{reply.order_id}-r{verification.order.revision}.{fmt}"
        return web.Response(
            body=body, content_type=LETTER_FORMATS[fmt].split(";")[0], charset="utf-8" if fmt == "html" else None,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
