"""An HTTP proxy in front of the demo ERP, for tests that make the ERP slow or failing on
the wire (the connector and odoorpc see a real HTTP server either way)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

FORWARDED_HEADERS = ("content-type", "authorization", "cookie", "x-odoo-database")


class ErpProxy:
    """Forwards every request to the ERP; subclasses decide per request in `intercept`."""

    def __init__(self, target_port: int) -> None:
        self.target = f"http://127.0.0.1:{target_port}"

    async def start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.http = aiohttp.ClientSession()
        return int(self.runner.addresses[0][1])

    async def intercept(self, request: web.Request, body: bytes) -> web.Response | None:
        """A response of its own instead of the ERP's, or None to forward (after any wait)."""
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        own = await self.intercept(request, body)
        if own is not None:
            return own
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        async with self.http.request(request.method, self.target + request.path_qs, data=body, headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read(), content_type=answer.content_type)

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()
