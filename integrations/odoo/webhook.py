"""An HTTP endpoint for Odoo 17+'s automation "Send Webhook Notification": a POST of
`{"_action": ..., "_id": <id>, "_model": "purchase.order", ...}` with a 1 s timeout, no retry
and no signature (and, before Odoo 19, sent before the transaction commits). So a post is
only a hint to poll now; the poll remains the source of truth. An optional token in the URL
(`?token=...`) keeps strangers from making the connector poll."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/erp/webhook"
WATCHED_MODELS = frozenset({"purchase.order", "purchase.order.line"})


class WebhookServer:
    def __init__(self, host: str, port: int, on_hint: Callable[[str, int], None], token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.on_hint = on_hint
        self.token = token
        self.received = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post(PATH, self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post(self, request: web.Request) -> web.Response:
        if self.token is not None and not hmac.compare_digest(request.query.get("token", ""), self.token):
            return web.json_response({"ok": False, "error": "unauthorized", "message": "wrong or missing ?token="}, status=401)
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return web.json_response({"ok": False, "error": "bad_json", "message": str(exc)}, status=400)
        if not isinstance(body, dict) or body.get("_model") not in WATCHED_MODELS or not isinstance(body.get("_id"), int):
            return web.json_response(
                {"ok": False, "error": "invalid", "message": "expected {_model: purchase.order | purchase.order.line, _id: int, ...}"},
                status=422,
            )
        self.received += 1
        self.on_hint(body["_model"], body["_id"])
        return web.json_response({"ok": True, "hint": f"{body['_model']}({body['_id']})"}, status=202)
